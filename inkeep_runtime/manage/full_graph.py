"""PLACEHOLDER — being written by the full-graph helper."""

from __future__ import annotations

from pathlib import Path

from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.rows import Scope


async def load_graph_dir(store: Store, scope: Scope, folder: Path) -> list[str]:
    return []


async def push_graph_file(store: Store, scope: Scope, file: Path) -> str:
    raise NotImplementedError
