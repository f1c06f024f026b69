"""OAuth for MCP servers: discovery, dynamic client registration, PKCE, token exchange and refresh.

`metadata.discover` finds an MCP server's authorization server; `client` speaks to it (registration,
authorization URL, token endpoint); `tokens.OAuthTokens` is the `oauth` credential store the credential
resolver reads, refreshing tokens before they expire. The HTTP routes live in `manage/oauth.py`.
"""

from __future__ import annotations

from inkeep_runtime.oauth.errors import OAuthDenied, OAuthError, OAuthStateError
from inkeep_runtime.oauth.tokens import OAuthTokens

__all__ = ["OAuthDenied", "OAuthError", "OAuthStateError", "OAuthTokens"]
