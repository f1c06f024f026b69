"""Model calls: neutral messages (`messages`) and the streaming client seam over litellm (`client`)."""

from __future__ import annotations

__all__: list[str] = []
