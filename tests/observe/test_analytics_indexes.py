"""Migration 009 creates the analytics indexes, with their columns in order, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.m009_analytics_indexes import INDEXES


async def _indexes(store: Store, table: str) -> dict[str, list[Any]]:
    async with store.engine.connect() as connection:
        found = await connection.run_sync(lambda sync: sa.inspect(sync).get_indexes(table))
    return {index["name"]: list(index["column_names"]) for index in found}


@pytest.mark.parametrize(("name", "table", "columns"), INDEXES)
async def test_the_analytics_indexes_exist(store: Store, name: str, table: str, columns: tuple[str, ...]) -> None:
    assert (await _indexes(store, table))[name] == list(columns)
