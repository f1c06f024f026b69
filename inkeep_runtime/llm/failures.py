"""Provider failures, judged once at the client boundary: worth a retry? how long to wait? what may be shown?"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["is_retryable", "redact", "retry_after_s", "retry_delay_s"]

_SECRET_OPTION = re.compile(r"(?:key|secret|token|password|credentials?)$", re.IGNORECASE)
_SECRET_SHAPES = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{6,}|(?<=Bearer )[^\s'\",]+", re.IGNORECASE)
_MAX_DETAIL_CHARS = 400


def retry_delay_s(exc: Exception, attempt: int, *, base_s: float, cap_s: float) -> float | None:
    """How long to wait after failed `attempt` (1, 2, ...), or None when `exc` is not worth retrying.

    The server's `Retry-After` wins; one beyond `cap_s` means "not now", so None. Otherwise exponential
    backoff from `base_s` with +/-50% jitter, capped at `cap_s`.
    """
    if not is_retryable(exc):
        return None
    wait_s = retry_after_s(exc)
    if wait_s is not None:
        return wait_s if wait_s <= cap_s else None
    return min(base_s * 2.0 ** (attempt - 1) * random.uniform(0.5, 1.5), cap_s)


def is_retryable(exc: Exception) -> bool:
    """429, 5xx and connection failures (litellm reports those as status 500) are worth another try."""
    if isinstance(exc, TimeoutError):
        return False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    return isinstance(exc, OSError)


def retry_after_s(exc: Exception) -> float | None:
    """`retry-after-ms` or `Retry-After` (seconds or an HTTP date) of the failed response, if any."""
    # litellm keeps the provider's headers on `litellm_response_headers`; `response` is often synthetic.
    raw = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    if not isinstance(raw, Mapping):
        return None
    headers = {str(key).lower(): value for key, value in raw.items()}
    try:
        if (millis := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(millis) / 1000)
        value = headers.get("retry-after")
        if not isinstance(value, str):
            return None
        if value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def redact(text: str, options: Mapping[str, Any]) -> str:
    """`text` without the secrets among `options` (and without anything shaped like an API key)."""
    secrets = [value for key, value in options.items() if _SECRET_OPTION.search(key) and isinstance(value, str)]
    headers = options.get("extra_headers") or options.get("headers")
    if isinstance(headers, Mapping):
        secrets.extend(value for value in headers.values() if isinstance(value, str))
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:  # shorter values would redact ordinary words
            text = text.replace(secret, "[redacted]")
    text = _SECRET_SHAPES.sub("[redacted]", text)
    return text if len(text) <= _MAX_DETAIL_CHARS else text[: _MAX_DETAIL_CHARS - 3] + "..."
