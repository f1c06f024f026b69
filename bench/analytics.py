"""`python -m bench.analytics`: latency of the analytics routes over 100,000 seeded queries.

Seeds a fresh database (SQLite, and PostgreSQL too when `--postgres URL` is given) with synthetic query
logs (`bench/analytics_seed.py`), starts `python -m inkeep_runtime serve --dev` on it, and calls every
analytics route over HTTP on loopback, `--repeats` times each after two warm-up calls, one at a time.
Prints a table (p50 / p95 / max ms per call, per backend) and then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.analytics_seed import Dataset, generate, load_postgres, load_sqlite
from bench.procs import PYTHON, Proc, free_port, start

TENANT, PROJECT = "default", "bench"
BASE = f"/tenants/{TENANT}/crud/projects/{PROJECT}/analytics"
CASES: tuple[tuple[str, str], ...] = (
    ("summary 24h", "summary?window=24h"),
    ("summary 7d, compare=previous", "summary?window=7d&compare=previous"),
    ("summary 30d", "summary?window=30d"),
    ("summary 30d, agentId filter", "summary?window=30d&agentId=billing"),
    ("summary 30d, toolId filter", "summary?window=30d&toolId=srv_crm"),
    ("timeseries queries 7d/1h", "timeseries?metric=queries&window=7d&frequency=1h"),
    ("timeseries latency p95 7d/1h", "timeseries?metric=tool_call_latency_p95&window=7d&frequency=1h"),
    ("timeseries calls/query 30d/1d", "timeseries?metric=tool_calls_per_query&window=30d&frequency=1d"),
    ("tools 7d by tool", "tools?window=7d"),
    ("tools 30d by agent_tool, p95", "tools?window=30d&groupBy=agent_tool&sort=p95LatencyMs"),
    ("agents 24h", "agents?window=24h"),
    ("agents 30d", "agents?window=30d"),
    ("errors 7d/1h", "errors?window=7d&frequency=1h"),
    ("errors 30d/1d", "errors?window=30d&frequency=1d"),
)


def _say(message: str) -> None:
    print(f"[bench.analytics {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100_000, help="Queries to seed (100000).")
    parser.add_argument("--days", type=int, default=30, help="Days the queries are spread over, ending now (30).")
    parser.add_argument("--repeats", type=int, default=20, help="Timed calls per route (20).")
    parser.add_argument("--postgres", metavar="URL", help="Also run on PostgreSQL (a new database is created there).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (database, server log).")
    return parser


async def _migrate(url: str) -> None:
    from inkeep_runtime.store.engine import Store
    from inkeep_runtime.store.migrations import migrate

    store = Store.open(url)
    try:
        await migrate(store.engine)
    finally:
        await store.close()


def _serve(tmp: Path, name: str, url: str) -> Proc:
    port = free_port()
    argv = [PYTHON, "-m", "inkeep_runtime", "serve", "--dev", "--host", "127.0.0.1", "--port", str(port)]
    return start(name, [*argv, "--database-url", url], port=port, log=tmp / f"{name}.log", cpus=None, timeout_s=120)


def _create_project(client: httpx.Client) -> None:
    response = client.post(
        f"/tenants/{TENANT}/crud/projects", json={"id": PROJECT, "name": "Bench", "description": "Analytics bench"}
    )
    if response.status_code != 201:
        msg = f"Creating the project failed: {response.status_code} {response.text}"
        raise RuntimeError(msg)


def _percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-p * len(ordered) // 100) - 1)]


def _measure(client: httpx.Client, repeats: int) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    for label, path in CASES:
        url = f"{BASE}/{path}"
        for _ in range(2):
            response = client.get(url)
            if response.status_code != 200:
                msg = f"GET {url} answered {response.status_code}: {response.text[:500]}"
                raise RuntimeError(msg)
        timings: list[float] = []
        for _ in range(repeats):
            began = time.perf_counter()
            client.get(url).raise_for_status()
            timings.append((time.perf_counter() - began) * 1000)
        figures.append(
            {
                "case": label,
                "path": path,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(_percentile(timings, 95), 1),
                "max_ms": round(max(timings), 1),
            }
        )
        _say(f"{label}: p50 {figures[-1]['p50_ms']} ms")
    return figures


def _run_backend(tmp: Path, name: str, url: str, load: Any, data: Dataset, repeats: int) -> dict[str, Any]:
    _say(f"{name}: migrating")
    asyncio.run(_migrate(url))
    proc = _serve(tmp, name, url)
    try:
        with httpx.Client(base_url=proc.base_url, timeout=120) as client:
            _create_project(client)
            _say(f"{name}: loading {len(data.queries)} queries, {len(data.steps)} steps, {len(data.calls)} calls")
            began = time.perf_counter()
            load()
            seed_s = time.perf_counter() - began
            _say(f"{name}: loaded in {seed_s:.1f} s; measuring {len(CASES)} routes x {repeats}")
            figures = _measure(client, repeats)
    finally:
        proc.stop()
    return {"backend": name, "seed_s": round(seed_s, 1), "startup_s": round(proc.startup_s, 1), "routes": figures}


def _postgres_database(url: str, name: str, *, drop: bool) -> None:
    """Create (or drop) database `name` on the server of `url`."""

    async def run() -> None:
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if drop else f'CREATE DATABASE "{name}"'
                await connection.execute(text(statement))
        finally:
            await admin.dispose()

    asyncio.run(run())


def _cell(figures: dict[str, Any]) -> str:
    return f"{figures['p50_ms']} / {figures['p95_ms']} / {figures['max_ms']}"


def _render(results: dict[str, Any]) -> str:
    backends = results["backends"]
    header = f"{'route':34}" + "".join(f"  {b['backend'] + ' p50 / p95 / max ms':>34}" for b in backends)
    lines = [
        f"inkeep_runtime analytics bench: {results['queries']} queries, {results['steps']} steps, "
        f"{results['tool_calls']} tool calls over {results['days']} days; {results['repeats']} calls per route "
        f"(Python {results['python']}, SQLite {results['sqlite']}, {results['cpus']} CPUs)",
        "seeding: " + ", ".join(f"{b['backend']} {b['seed_s']} s" for b in backends),
        "",
        header,
        "-" * len(header),
    ]
    for index, (label, _) in enumerate(CASES):
        cells = [_cell(b["routes"][index]) for b in backends]
        lines.append(f"{label:34}" + "".join(f"  {cell:>34}" for cell in cells))
    return "\n".join(lines)


def _run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    now_ms = time.time_ns() // 1_000_000
    _say(f"generating {args.queries} queries over {args.days} days")
    data = generate(tenant=TENANT, project=PROJECT, queries=args.queries, days=args.days, now_ms=now_ms)
    os.environ["INKEEP_QUERY_LOG_RETENTION_DAYS"] = "0"  # the servers must not prune the seeded history
    sqlite_file = tmp / "analytics.db"
    backends = [
        _run_backend(
            tmp, "sqlite", f"sqlite+aiosqlite:///{sqlite_file}", lambda: load_sqlite(str(sqlite_file), data), data,
            args.repeats,
        )
    ]  # fmt: skip
    if args.postgres:
        name = f"inkeep_bench_{uuid.uuid4().hex[:10]}"
        base, _, _ = args.postgres.rpartition("/")
        url = f"{base}/{name}"
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        _postgres_database(args.postgres, name, drop=False)
        try:
            backends.append(
                _run_backend(tmp, "postgres", url, lambda: asyncio.run(load_postgres(dsn, data)), data, args.repeats)
            )
        finally:
            if not args.keep:
                _postgres_database(args.postgres, name, drop=True)
    return {
        "queries": len(data.queries),
        "steps": len(data.steps),
        "tool_calls": len(data.calls),
        "days": args.days,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "backends": backends,
    }


def main() -> int:
    """Run the bench; print the table and the JSON line."""
    args = _parser().parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="inkeep-bench-analytics-"))
    try:
        results = _run(args, tmp)
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"bench.analytics: {exc}", file=sys.stderr)
        _say(f"logs and database kept in {tmp}")
        return 1
    if args.keep:
        _say(f"logs and database kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print(_render(results))
    print(json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
