"""inkeep_runtime: an open-source Python runtime for multi-agent graphs."""

from __future__ import annotations

import os

# litellm fetches a price list over the network at import unless told not to; set it before any import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from inkeep_runtime.app import create_app
from inkeep_runtime.errors import InkeepError
from inkeep_runtime.settings import Settings

__all__ = ["InkeepError", "Settings", "create_app"]
