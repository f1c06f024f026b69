"""The load generator: stream chat completions and time every content token as the client sees it.

It runs inside the bench process on one `httpx.AsyncClient` per target. Frames are split into lines by
hand from `aiter_raw()`, and only `data:` payloads that can hold content or an error are JSON-parsed, so
the client's own cost per token stays small (a few microseconds).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["StreamResult", "Target", "percentile", "prompt", "run_streams", "stream_once"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Somewhere to send chat completions."""

    name: str
    url: str
    """The full `.../chat/completions` URL."""
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class StreamResult:
    """What one streamed request looked like from the client."""

    ttft_s: float | None = None
    """From sending the request to the first content token."""
    arrivals: list[float] = field(default_factory=list)
    """`perf_counter()` when each content token arrived (tokens in one read share a time)."""
    is_done: bool = False
    """`data: [DONE]` arrived."""
    error: str | None = None

    @property
    def tokens(self) -> int:
        return len(self.arrivals)

    @property
    def gaps_s(self) -> list[float]:
        """Inter-token gaps (the first token's wait is TTFT, not a gap)."""
        times = self.arrivals
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def is_ok(self, expected_tokens: int) -> bool:
        return self.error is None and self.is_done and self.tokens >= expected_tokens


def prompt(tokens: int, rate: float) -> list[dict[str, str]]:
    """The messages that make the fake upstream answer `tokens` tokens at `rate` per second."""
    return [{"role": "user", "content": f"bench tokens={tokens} rate={rate:g}"}]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _content(payload: bytes) -> tuple[str | None, str | None]:
    """(content text, error message) of one `data:` payload."""
    if b'"content"' not in payload and b'"error"' not in payload:
        return None, None
    data = json.loads(payload)
    if isinstance(data, dict) and data.get("error"):
        return None, json.dumps(data["error"])[:300]
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices:
        return None, None
    return (choices[0].get("delta") or {}).get("content"), None


async def stream_once(
    client: httpx.AsyncClient, target: Target, tokens: int, rate: float, result: StreamResult | None = None
) -> StreamResult:
    """Send one streaming request and record when each content token arrives (into `result`, if given,
    so a caller can watch a stream in progress)."""
    result = result or StreamResult()
    body = {"model": "bench", "messages": prompt(tokens, rate), "stream": True, **target.extra_body}
    began = time.perf_counter()
    try:
        async with client.stream("POST", target.url, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                result.error = f"HTTP {response.status_code}: {response.text[:300]}"
                return result
            pending = b""
            async for raw in response.aiter_raw():
                now = time.perf_counter()
                pending += raw
                cut = pending.rfind(b"\n")
                if cut < 0:
                    continue
                lines, pending = pending[:cut].splitlines(), pending[cut + 1 :]
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        result.is_done = True
                        continue
                    text, error = _content(payload)
                    if error is not None:
                        result.error = error
                    elif text:
                        if result.ttft_s is None:
                            result.ttft_s = now - began
                        result.arrivals.append(now)
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def run_streams(
    client: httpx.AsyncClient,
    target: Target,
    count: int,
    tokens: int,
    rate: float,
    *,
    spread_s: float = 0.0,
    results: list[StreamResult] | None = None,
) -> list[StreamResult]:
    """Run `count` streams at once, their starts spread evenly over `spread_s`.

    Args:
        results: a list to fill with the streams' results as they progress (one per stream, at once).
    """
    results = [] if results is None else results
    results.extend(StreamResult() for _ in range(count))

    async def one(index: int) -> None:
        if spread_s:
            await asyncio.sleep(spread_s * index / count)
        await stream_once(client, target, tokens, rate, results[index])

    async with asyncio.TaskGroup() as group:
        for index in range(count):
            group.create_task(one(index))
    return results
