"""Migrations: applied once, recorded, and producing exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from inkeep_runtime.store import tables
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.migrations import MIGRATIONS, applied_migrations, migrate

HEAD = [name for name, _ in MIGRATIONS]

MODEL_TABLES = {model.__tablename__: model.__table__ for model in map(tables.__dict__.get, tables.__all__)}


async def _reflect(store: Store, inspect: Any) -> Any:
    async with store.engine.connect() as connection:
        return await connection.run_sync(lambda sync: inspect(sa.inspect(sync)))


async def test_empty_database_gets_every_migration_recorded(empty_store: Store) -> None:
    assert await migrate(empty_store.engine) == HEAD
    assert await applied_migrations(empty_store.engine) == [name for name, _ in MIGRATIONS]


async def test_second_run_applies_nothing(empty_store: Store) -> None:
    await migrate(empty_store.engine)
    assert await migrate(empty_store.engine) == []
    assert await applied_migrations(empty_store.engine) == HEAD


async def test_applied_migrations_of_an_empty_database_is_empty(empty_store: Store) -> None:
    assert await applied_migrations(empty_store.engine) == []


async def test_concurrent_migrations_apply_once(empty_store: Store) -> None:
    results: list[list[str]] = []

    async def run() -> None:
        results.append(await migrate(empty_store.engine))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(run)
    assert sorted(results) == [[], [], HEAD]


async def test_table_names_match_the_models(store: Store) -> None:
    names = await _reflect(store, lambda inspector: set(inspector.get_table_names()))
    assert names == {*MODEL_TABLES, "inkeep_migrations"}


def _expected_foreign_keys(name: str) -> set[tuple[Any, ...]]:
    return {
        (
            tuple(c.name for c in fk.columns),
            fk.referred_table.name,
            tuple(e.column.name for e in fk.elements),
            (fk.ondelete or "NO ACTION").upper(),
        )
        for fk in MODEL_TABLES[name].foreign_key_constraints
    }


def _found_foreign_keys(reflected: list[Any]) -> set[tuple[Any, ...]]:
    return {
        (
            tuple(fk["constrained_columns"]),
            fk["referred_table"],
            tuple(fk["referred_columns"]),
            (fk.get("options", {}).get("ondelete") or "NO ACTION").upper(),
        )
        for fk in reflected
    }


def _expected_uniques(name: str) -> set[tuple[str, ...]]:
    return {
        tuple(c.name for c in constraint.columns)
        for constraint in MODEL_TABLES[name].constraints
        if isinstance(constraint, sa.UniqueConstraint) and not isinstance(constraint, sa.PrimaryKeyConstraint)
    }


async def test_every_table_matches_its_model(store: Store) -> None:
    """Columns (nullability), primary keys, foreign keys (with ON DELETE) and unique constraints of every table.

    One reflection pass over all tables, compared table by table, so a mismatch names its table.
    """

    def reflect(inspector: Any) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(name)},
                "primary_key": inspector.get_pk_constraint(name)["constrained_columns"],
                "foreign_keys": _found_foreign_keys(inspector.get_foreign_keys(name)),
                "uniques": {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)},
            }
            for name in MODEL_TABLES
        }

    reflected = await _reflect(store, reflect)
    expected = {
        name: {
            "columns": {c.name: c.nullable for c in model.columns},
            "primary_key": [c.name for c in model.primary_key.columns],
            "foreign_keys": _expected_foreign_keys(name),
            "uniques": _expected_uniques(name),
        }
        for name, model in MODEL_TABLES.items()
    }
    for name in sorted(MODEL_TABLES):
        assert reflected[name] == expected[name], name


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(store: Store) -> None:
    if not store.is_sqlite:
        pytest.skip("SQLite pragmas")
    async with store.engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
        assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one() == 5000
