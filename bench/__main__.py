"""`python -m bench`: the runtime's streaming benchmark (see bench/README.md). Prints a table, then one
JSON line with every figure."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import Target
from bench.phases import CpuLoad, Setup, added_ttft, cpu_per_token, max_streams, new_client, rss_per_stream
from bench.procs import PYTHON, Proc, free_port, run_checked, start
from bench.report import render

GRAPH_ID = "bench"
CHAT_PATH = f"/tenants/default/projects/default/graphs/{GRAPH_ID}/v1/chat/completions"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smaller sizes everywhere (about a minute).")
    parser.add_argument("--rate", type=float, default=50.0, help="Tokens per second of a paced stream (50).")
    parser.add_argument("--ttft-requests", type=int, help="Sequential requests per target for TTFT (50; quick 15).")
    parser.add_argument("--cpu-streams", type=int, help="Concurrent streams of the CPU workload (20; quick 10).")
    parser.add_argument("--cpu-tokens", type=int, help="Tokens per stream of the CPU workload (200; quick 100).")
    parser.add_argument(
        "--cpu-rate", type=float, default=1000.0, help="Tokens per second per stream, saturated CPU workload (1000)."
    )
    parser.add_argument("--cpu-paced-tokens", type=int, help="Tokens per stream, paced CPU workload (100; quick 50).")
    parser.add_argument("--cpu-repeats", type=int, help="CPU workloads per target; the best counts (3; quick 1).")
    parser.add_argument("--levels", help="Concurrency ramp (1,5,10,25,...,800; quick up to 200).")
    parser.add_argument("--ramp-tokens", type=int, help="Tokens per stream at each ramp level (100; quick 50).")
    parser.add_argument("--gap-budget-ms", type=float, default=50.0, help="p99 inter-token gap budget (50).")
    parser.add_argument("--rss-streams", type=int, help="Streams held open for the RSS figure (200; quick 50).")
    parser.add_argument("--starts", type=int, help="Runtime start-ups timed; the median counts (3; quick 1).")
    parser.add_argument("--no-pin", action="store_true", help="Do not pin the servers and the client to cores.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (database, server logs).")
    return parser


def _sizes(args: argparse.Namespace) -> None:
    """Fill unset sizes from the defaults of the chosen mode."""
    quick = args.quick
    defaults = {
        "ttft_requests": 15 if quick else 50,
        "cpu_streams": 10 if quick else 20,
        "cpu_tokens": 100 if quick else 200,
        "cpu_repeats": 1 if quick else 3,
        "cpu_paced_tokens": 50 if quick else 100,
        "levels": "1,5,10,25,50,100,200" if quick else "1,5,10,25,50,100,200,400,800",
        "ramp_tokens": 50 if quick else 100,
        "rss_streams": 50 if quick else 200,
        "starts": 1 if quick else 3,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.levels = [int(level) for level in str(args.levels).split(",") if level.strip()]


def _cores(no_pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server cores, client cores): the server under test alone on one core, everything else elsewhere."""
    available = sorted(os.sched_getaffinity(0))
    if no_pin or len(available) < 2:
        return None, None
    return {available[0]}, set(available[1:])


def _graph(upstream: str) -> dict[str, Any]:
    settings = {"model": "openai/bench", "providerOptions": {"api_base": f"{upstream}/v1", "api_key": "x"}}
    agent = {
        "id": "writer",
        "type": "internal",
        "name": "Writer",
        "description": "Answers every message with whatever the model streams.",
        "instructions": "Answer the user.",
        "modelSettings": settings,
    }
    return {"id": GRAPH_ID, "name": "Bench", "defaultAgentId": "writer", "agents": {"writer": agent}}


def _start_runtime(tmp: Path, database_url: str, cores: set[int] | None, index: int) -> Proc:
    port = free_port()
    argv = [PYTHON, "-m", "inkeep_runtime", "serve", "--dev", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--database-url", database_url]
    return start("runtime", argv, port=port, log=tmp / f"runtime-{index}.log", cpus=cores)


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def _measure(args: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with new_client() as client:
        _say("warming up (3 requests per target)")
        for target in (setup.direct, setup.relay, setup.runtime):
            for _ in range(3):
                await _stream_ok(client, target)
        _say(f"added TTFT: {args.ttft_requests} sequential requests per target")
        results["ttft"] = await added_ttft(client, setup, args.ttft_requests, args.rate)
        _say(f"RSS per open stream: {args.rss_streams} streams held open")
        results["rss"] = {
            "runtime": await rss_per_stream(client, setup.runtime, setup.runtime_proc, args.rss_streams, 1.5),
            "relay": await rss_per_stream(client, setup.relay, setup.relay_proc, args.rss_streams, 1.5),
        }
        _say(
            f"CPU per token: {args.cpu_streams} streams x {args.cpu_tokens} tokens at {args.cpu_rate:g}/s, "
            f"then x {args.cpu_paced_tokens} at {args.rate:g}/s"
        )
        load = CpuLoad(
            streams=args.cpu_streams,
            tokens=args.cpu_tokens,
            rate=args.cpu_rate,
            repeats=args.cpu_repeats,
            paced_tokens=args.cpu_paced_tokens,
            paced_rate=args.rate,
        )
        results["cpu"] = await cpu_per_token(client, setup, load)
        _say(f"max streams: ramp {args.levels} at {args.rate:g} tokens/s")
        results["ramp"] = await max_streams(
            client, setup, levels=args.levels, tokens=args.ramp_tokens, rate=args.rate, budget_ms=args.gap_budget_ms
        )
    return results


async def _stream_ok(client: Any, target: Target) -> None:
    from bench.load import stream_once

    result = await stream_once(client, target, 3, 1000)
    if not result.is_ok(3):
        msg = f"A warm-up request to {target.name} ({target.url}) failed: {result.error or result}"
        raise RuntimeError(msg)


def _environment(cores: tuple[set[int] | None, set[int] | None]) -> dict[str, Any]:
    server, client = cores
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pinning": f"servers on {sorted(server)}, client and upstream on {sorted(client)}" if server else "none",
        "load_generator": "in the bench process (one asyncio loop, httpx)",
    }


def _count_errors(results: dict[str, Any]) -> int:
    """Failed requests across the phases."""
    cpu, ramp = results["cpu"], results["ramp"]
    return (
        results["ttft"]["errors"]
        + cpu["relay"]["errors"]
        + cpu["runtime"]["errors"]
        + sum(level["failures"] + level["control"]["failures"] for level in ramp["levels"])
    )


def _cpu_totals() -> tuple[int, int]:
    """(all jiffies, steal jiffies) of the machine so far, from the `cpu` line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values[:8]), values[7]


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every server we start


def _run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    cores = _cores(args.no_pin)
    server_cores, client_cores = cores
    if client_cores:
        os.sched_setaffinity(0, client_cores)
    procs: list[Proc] = []
    try:
        _say("starting the paced upstream and the raw relay")
        port = free_port()
        upstream = start(
            "upstream",
            [PYTHON, "-m", "bench.upstream", "--port", str(port), "--rate", str(args.rate)],
            port=port,
            log=tmp / "upstream.log",
            cpus=client_cores,
        )
        procs.append(upstream)
        port = free_port()
        relay_argv = [PYTHON, "-m", "bench.relay", "--port", str(port), "--upstream", upstream.base_url]
        relay = start("relay", relay_argv, port=port, log=tmp / "relay.log", cpus=server_cores)
        procs.append(relay)
        database_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        graph_file = tmp / "bench-graph.json"
        graph_file.write_text(json.dumps(_graph(upstream.base_url), indent=2))
        push = [PYTHON, "-m", "inkeep_runtime", "push", str(graph_file), "--tenant", "default", "--project", "default"]
        run_checked([*push, "--database-url", database_url])
        startups = []
        for index in range(args.starts):
            _say(f"starting the runtime ({index + 1} of {args.starts})")
            runtime = _start_runtime(tmp, database_url, server_cores, index)
            startups.append(runtime.startup_s)
            if index < args.starts - 1:
                runtime.stop()
        procs.append(runtime)
        setup = Setup(
            direct=Target(
                name="direct",
                url=f"{upstream.base_url}/v1/chat/completions",
                extra_body={"stream_options": {"include_usage": True}},
            ),
            relay=Target(name="relay", url=f"{relay.base_url}/v1/chat/completions"),
            runtime=Target(name="runtime", url=f"{runtime.base_url}{CHAT_PATH}"),
            upstream_proc=upstream,
            relay_proc=relay,
            runtime_proc=runtime,
        )
        results = asyncio.run(_measure(args, setup))
        results["startup"] = {
            "runtime_s": sorted(startups)[len(startups) // 2],
            "runtime_all_s": [round(s, 3) for s in startups],
            "relay_s": round(relay.startup_s, 3),
        }
        results["environment"] = _environment(cores)
        return results
    finally:
        for proc in reversed(procs):
            proc.stop()


def main() -> int:
    """Run the bench; print the table and the JSON line."""
    args = _parser().parse_args()
    _sizes(args)
    _raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="inkeep-bench-"))
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    total_before, steal_before = _cpu_totals()
    try:
        results = _run(args, tmp)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        results = None
    if results is not None and _count_errors(results):
        args.keep = True  # the server logs say what went wrong
    if args.keep:
        _say(f"logs and database kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if results is None:
        return 1
    results["bench_wall_s"] = round(time.perf_counter() - began, 1)
    total, steal = _cpu_totals()
    results["environment"]["load_avg_1m_at_start"] = round(load_before, 2)
    results["environment"]["steal_percent"] = round(100 * (steal - steal_before) / max(1, total - total_before), 1)
    results["mode"] = "quick" if args.quick else "default"
    print(render(results))
    print(json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
