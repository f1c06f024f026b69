"""The measurements, one function per figure. Each takes the running processes and returns plain dicts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.load import StreamResult, Target, percentile, run_streams, stream_once
from bench.procs import Proc, cpu_sample, cpu_used_s, rss_kib

__all__ = ["CpuLoad", "Setup", "added_ttft", "cpu_per_token", "max_streams", "new_client", "rss_per_stream"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    """The targets, the processes behind them, and the client used for each."""

    direct: Target
    relay: Target
    runtime: Target
    upstream_proc: Proc
    relay_proc: Proc
    runtime_proc: Proc


def new_client() -> httpx.AsyncClient:
    """A client with room for every stream the ramp can open."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=4000, keepalive_expiry=60)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120, connect=30, pool=None))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _failures(results: list[StreamResult], tokens: int) -> list[str]:
    return [
        r.error or f"incomplete: {r.tokens}/{tokens} tokens, done={r.is_done}" for r in results if not r.is_ok(tokens)
    ]


async def added_ttft(client: httpx.AsyncClient, setup: Setup, requests: int, rate: float) -> dict[str, Any]:
    """Sequential requests, interleaved direct / relay / runtime so drift hits all three alike."""
    ttfts: dict[str, list[float]] = {"direct": [], "relay": [], "runtime": []}
    errors: list[str] = []
    for _ in range(requests):
        for target in (setup.direct, setup.relay, setup.runtime):
            result = await stream_once(client, target, 3, rate)
            if result.ttft_s is None or not result.is_ok(3):
                errors.extend(_failures([result], 3))
            else:
                ttfts[target.name].append(result.ttft_s)
    figures: dict[str, Any] = {"requests": requests, "errors": len(errors), "first_error": errors[:1]}
    for name, values in ttfts.items():
        figures[f"{name}_p50_ms"] = _ms(percentile(values, 50))
        figures[f"{name}_p99_ms"] = _ms(percentile(values, 99))
    for name in ("relay", "runtime"):
        for pct in ("p50", "p99"):
            figures[f"{name}_added_{pct}_ms"] = round(figures[f"{name}_{pct}_ms"] - figures[f"direct_{pct}_ms"], 3)
    return figures


async def _cpu_of_workload(
    client: httpx.AsyncClient, target: Target, proc: Proc, streams: int, tokens: int, rate: float
) -> tuple[float, float, list[str]]:
    """(CPU seconds of `proc`, wall seconds, failures) for `streams` concurrent streams of `tokens`."""
    await asyncio.sleep(0.3)  # let the previous workload's tail (logging, storing) finish
    before = cpu_sample(proc.pid)
    began = time.perf_counter()
    results = await run_streams(client, target, streams, tokens, rate)
    wall_s = time.perf_counter() - began
    await asyncio.sleep(0.3)  # include work done just after the last byte (storing the answer)
    return cpu_used_s(before, cpu_sample(proc.pid)), wall_s, _failures(results, tokens)


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuLoad:
    """The CPU workloads: `streams` at once, `tokens` each at `rate`, then `paced_tokens` at `paced_rate`."""

    streams: int
    tokens: int
    rate: float
    repeats: int
    paced_tokens: int
    paced_rate: float


async def _cpu_figures(client: httpx.AsyncClient, target: Target, proc: Proc, load: CpuLoad) -> dict[str, Any]:
    """One target's CPU figures: saturated (best of `repeats`, plus a 1/10-length run), then paced."""
    small = max(2, load.tokens // 10)
    big_runs, small_runs, errors = [], [], []
    for _ in range(load.repeats):
        cpu, wall, failed = await _cpu_of_workload(client, target, proc, load.streams, load.tokens, load.rate)
        big_runs.append((cpu, wall))
        errors += failed
        cpu, _, failed = await _cpu_of_workload(client, target, proc, load.streams, small, load.rate)
        small_runs.append(cpu)
        errors += failed
    paced_cpu, _, failed = await _cpu_of_workload(
        client, target, proc, load.streams, load.paced_tokens, load.paced_rate
    )
    errors += failed
    big_cpu, wall = min(big_runs)
    small_cpu = min(small_runs)
    slope = (big_cpu - small_cpu) / (load.streams * (load.tokens - small))
    return {
        "cpu_us_per_token": round(big_cpu / (load.streams * load.tokens) * 1e6, 1),
        "marginal_us_per_token": round(slope * 1e6, 1),
        "fixed_ms_per_stream": round((small_cpu - slope * load.streams * small) / load.streams * 1000, 2),
        "paced_cpu_us_per_token": round(paced_cpu / (load.streams * load.paced_tokens) * 1e6, 1),
        "cpu_s": round(big_cpu, 3),
        "wall_s": round(wall, 2),
        "errors": len(errors),
        "first_error": errors[:1],
    }


async def cpu_per_token(client: httpx.AsyncClient, setup: Setup, load: CpuLoad) -> dict[str, Any]:
    """CPU µs per streamed token of the runtime and of the relay, and their ratio, for two workload shapes.

    Saturated (`rate`, high): the pure processing cost, tokens arriving back to back. A 1/10-length run
    splits it into a per-token slope and a fixed per-stream part. Paced (`paced_rate`, 50 tokens/s): the
    cost under a realistic arrival pattern, where each token also pays for waking the process up.
    """
    figures: dict[str, Any] = {
        "streams": load.streams,
        "tokens": load.tokens,
        "rate": load.rate,
        "paced_tokens": load.paced_tokens,
        "paced_rate": load.paced_rate,
    }
    figures["relay"] = await _cpu_figures(client, setup.relay, setup.relay_proc, load)
    figures["runtime"] = await _cpu_figures(client, setup.runtime, setup.runtime_proc, load)
    for key, ratio in (("cpu_us_per_token", "ratio"), ("paced_cpu_us_per_token", "paced_ratio")):
        relay_us = figures["relay"][key]
        figures[ratio] = round(figures["runtime"][key] / relay_us, 2) if relay_us else None
    return figures


async def rss_per_stream(
    client: httpx.AsyncClient, target: Target, proc: Proc, streams: int, settle_s: float
) -> dict[str, Any]:
    """RSS with `streams` slow streams open mid-flight, minus idle RSS, per stream."""
    await asyncio.sleep(0.5)
    idle = rss_kib(proc.pid)
    tokens, rate = 10_000, 2.0  # slow and long: every stream stays open until cancelled
    results: list[StreamResult] = []
    task = asyncio.create_task(run_streams(client, target, streams, tokens, rate, results=results))
    deadline = time.perf_counter() + 30 + streams * 0.05
    while time.perf_counter() < deadline and not task.done():
        if sum(r.ttft_s is not None for r in results) >= streams:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle_s)  # every stream has had another token or two by now
    loaded = rss_kib(proc.pid)
    is_open = sum(r.ttft_s is not None and r.error is None and not r.is_done for r in results)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await asyncio.sleep(1.0)  # let the server notice the disconnects and store the partial answers
    return {
        "streams": streams,
        "open_at_sample": is_open,
        "idle_rss_mib": round(idle / 1024, 1),
        "loaded_rss_mib": round(loaded / 1024, 1),
        "kib_per_stream": round((loaded - idle) / max(1, is_open), 1),
    }


async def _level(
    client: httpx.AsyncClient, target: Target, watched: dict[str, int], streams: int, tokens: int, rate: float
) -> dict[str, Any]:
    """One concurrency level: gaps, failures, and how busy each watched process (name → pid) was."""
    spread_s = min(0.5, tokens / rate / 4)
    before = {name: cpu_sample(pid) for name, pid in watched.items()}
    began = time.perf_counter()
    results = await run_streams(client, target, streams, tokens, rate, spread_s=spread_s)
    wall = time.perf_counter() - began
    busy = {name: round(100 * cpu_used_s(before[name], cpu_sample(pid)) / wall) for name, pid in watched.items()}
    gaps = [gap for r in results for gap in r.gaps_s]
    failures = _failures(results, tokens)
    ttfts = [r.ttft_s for r in results if r.ttft_s is not None]
    return {
        "streams": streams,
        "gap_p50_ms": _ms(percentile(gaps, 50)),
        "gap_p99_ms": _ms(percentile(gaps, 99)),
        "gap_max_ms": _ms(max(gaps, default=0.0)),
        "ttft_p99_ms": _ms(percentile(ttfts, 99)),
        "failures": len(failures),
        "first_failure": failures[:1],
        "cpu_percent": busy,
    }


async def max_streams(
    client: httpx.AsyncClient,
    setup: Setup,
    *,
    levels: list[int],
    tokens: int,
    rate: float,
    budget_ms: float,
) -> dict[str, Any]:
    """Ramp concurrency until the runtime's p99 inter-token gap reaches `budget_ms` or a stream fails.

    Each level runs twice: through the runtime, then straight to the fake upstream (the control). The
    control shows the gaps the machine itself adds (timer and scheduling jitter, the client, the fake):
    when it is near the budget too, the runtime is not what limits that level.
    """
    watched = {"runtime": setup.runtime_proc.pid, "upstream": setup.upstream_proc.pid, "client": os.getpid()}
    without_runtime = {name: pid for name, pid in watched.items() if name != "runtime"}
    done: list[dict[str, Any]] = []
    best = 0
    for streams in levels:
        level = await _level(client, setup.runtime, watched, streams, tokens, rate)
        await asyncio.sleep(0.5)
        level["control"] = await _level(client, setup.direct, without_runtime, streams, tokens, rate)
        level["is_ok"] = not level["failures"] and level["gap_p99_ms"] < budget_ms
        done.append(level)
        if not level["is_ok"]:
            break
        best = streams
        await asyncio.sleep(0.5)
    return {
        "budget_ms": budget_ms,
        "tokens": tokens,
        "rate": rate,
        "max_streams": best,
        "is_capped_by_levels": bool(done) and done[-1]["is_ok"],
        "levels": done,
    }
