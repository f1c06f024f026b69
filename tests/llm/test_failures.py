"""Judging provider failures: retry or not, how long to wait, what may be shown."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import pytest

from inkeep_runtime.llm.failures import is_retryable, redact, retry_after_s, retry_delay_s


class ProviderError(Exception):
    def __init__(self, status_code: int | None = None, headers: Any = None) -> None:
        super().__init__("provider failed")
        self.status_code = status_code
        self.litellm_response_headers = headers


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ProviderError(429), True),
        (ProviderError(500), True),
        (ProviderError(503), True),
        (ProviderError(400), False),
        (ProviderError(401), False),
        (ConnectionResetError(), True),
        (TimeoutError(), False),
        (ValueError(), False),
    ],
)
def test_only_rate_limits_server_errors_and_connection_failures_are_retryable(error: Exception, expected: bool) -> None:
    assert is_retryable(error) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        (httpx.Headers({"retry-after-ms": "250"}), 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_is_read_in_seconds(headers: Any, expected: float | None) -> None:
    assert retry_after_s(ProviderError(429, headers)) == expected


def test_retry_after_may_be_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)

    wait_s = retry_after_s(ProviderError(429, {"retry-after": when}))

    assert wait_s is not None
    assert 25 < wait_s <= 30


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    error = ProviderError(500)

    assert 0.1 <= (retry_delay_s(error, 1, base_s=0.2, cap_s=10) or 0) <= 0.3
    assert 0.4 <= (retry_delay_s(error, 3, base_s=0.2, cap_s=10) or 0) <= 1.2
    assert retry_delay_s(error, 10, base_s=0.2, cap_s=1) == 1


def test_a_retry_after_beyond_the_cap_means_no_retry() -> None:
    assert retry_delay_s(ProviderError(429, {"retry-after": "60"}), 1, base_s=0.2, cap_s=10) is None
    assert retry_delay_s(ProviderError(400), 1, base_s=0.2, cap_s=10) is None


def test_redact_removes_secret_options_headers_and_key_shapes() -> None:
    options = {
        "api_key": "abc-secret-value",
        "aws_secret_access_key": "AKIAXYZ",
        "max_tokens": 7,
        "extra_headers": {"x-api-token": "tok-12345"},
    }
    text = "key abc-secret-value, aws AKIAXYZ, header tok-12345, other sk-live-abcdef123, Bearer zzz9, 7 tokens"

    assert redact(text, options) == (
        "key [redacted], aws [redacted], header [redacted], other [redacted], Bearer [redacted], 7 tokens"
    )


def test_redact_truncates_long_provider_messages() -> None:
    assert len(redact("x" * 5000, {})) == 400
