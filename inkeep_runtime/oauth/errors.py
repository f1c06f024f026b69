"""Errors of the MCP OAuth flow (a branch of the one tree in `inkeep_runtime.errors`).

```
RequestError 400 → OAuthStateError 400 (unknown, expired or replayed state), OAuthDenied 400
UpstreamError 502 → OAuthError 502 (metadata, registration or token endpoint failed)
```
Messages name servers and OAuth error codes, never tokens, verifiers, codes or client secrets.
"""

from __future__ import annotations

from inkeep_runtime.errors import RequestError, UpstreamError

__all__ = ["OAuthDenied", "OAuthError", "OAuthStateError"]


class OAuthError(UpstreamError):
    """An OAuth server (or the MCP server's OAuth metadata) could not be used."""

    code = "oauth_failed"
    title = "OAuth Failed"


class OAuthStateError(RequestError):
    """The callback's `state` is unknown, expired or was already used."""

    code = "invalid_oauth_state"
    title = "Invalid OAuth State"


class OAuthDenied(RequestError):
    """The user (or the authorization server) refused the authorization."""

    code = "oauth_denied"
    title = "OAuth Authorization Denied"
