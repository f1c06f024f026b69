"""Command line: `inkeep-runtime serve | migrate | push FILE`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from inkeep_runtime.errors import ConfigError, InkeepError
from inkeep_runtime.settings import Settings

__all__ = ["main"]

logger = logging.getLogger("inkeep_runtime")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inkeep-runtime", description="Serve and manage Inkeep agent graphs.")
    commands = parser.add_subparsers(dest="command", required=True)

    def database(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--database-url",
            help="sqlite+aiosqlite:///path or postgresql+asyncpg://... "
            "(env INKEEP_DATABASE_URL; default ./data/inkeep.db)",
        )

    serve = commands.add_parser("serve", help="Serve the CRUD and run APIs over HTTP.")
    serve.add_argument("--host", help="Bind address (env INKEEP_HOST; default 127.0.0.1).")
    serve.add_argument("--port", type=int, help="Port (env INKEEP_PORT; default 3002).")
    serve.add_argument("--graphs", type=Path, help="Load every *.json graph in this folder into default/default.")
    serve.add_argument(
        "--dev", action="store_true", default=None, help="Development mode: run API without API keys (loopback only)."
    )
    database(serve)

    migrate = commands.add_parser("migrate", help="Apply pending database migrations.")
    database(migrate)

    push = commands.add_parser("push", help="Create or update a graph from a full-graph JSON file (idempotent).")
    push.add_argument("file", type=Path)
    push.add_argument("--tenant", default="default")
    push.add_argument("--project", default="default")
    database(push)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        os.environ,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        database_url=args.database_url,
        dev=getattr(args, "dev", None),
        graphs_dir=getattr(args, "graphs", None),
    )


async def _migrate(settings: Settings) -> list[str]:
    from inkeep_runtime.store.engine import Store
    from inkeep_runtime.store.migrations import migrate

    store = Store.open(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        return await migrate(store.engine)
    finally:
        await store.close()


async def _push(settings: Settings, file: Path, tenant: str, project: str) -> str:
    from inkeep_runtime.manage.graph_files import push_graph_file
    from inkeep_runtime.store.engine import Store
    from inkeep_runtime.store.migrations import migrate
    from inkeep_runtime.store.rows import Scope

    store = Store.open(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        await migrate(store.engine)
        return await push_graph_file(store, Scope(tenant, project), file)
    finally:
        await store.close()


def _serve(settings: Settings) -> None:
    import uvicorn

    from inkeep_runtime.app import create_app

    app = create_app(settings, announce=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", lifespan="on")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # litellm logs every completion at INFO (twice); our own logs say what matters.
    for noisy in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = _settings(args)
        if args.command == "migrate":
            applied = asyncio.run(_migrate(settings))
            print(f"Applied {', '.join(applied)}." if applied else "Database is up to date.")
        elif args.command == "push":
            print(asyncio.run(_push(settings, args.file, args.tenant, args.project)))
        else:
            _serve(settings)
    except ConfigError as exc:
        print(f"inkeep-runtime: configuration error: {exc.detail}", file=sys.stderr)
        return 2
    except InkeepError as exc:
        print(f"inkeep-runtime: {exc.title}: {exc.detail}", file=sys.stderr)
        return 1
    return 0
