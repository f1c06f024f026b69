"""The write queue: batches in one transaction, flushes on shutdown, drops (and counts) on overflow, retention."""

from __future__ import annotations

import logging

import anyio
import pytest

from inkeep_runtime.observe import writer as writer_module
from inkeep_runtime.observe.writer import DAY_MS, QueryLogWriter
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.query_logs import QueryRecord, insert_records
from tests.observe.querylog_harness import create_project, make_record, rows

pytestmark = pytest.mark.usefixtures("backend")

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
async def project(store: Store) -> None:
    await create_project(store)


async def _ids(store: Store) -> list[str]:
    return [row["id"] for row in await rows(store, "query_logs", "id")]


@pytest.mark.usefixtures("project")
async def test_records_are_written_in_batches_by_the_loop(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []

    async def counting(target: Store, records: list[QueryRecord]) -> None:
        batches.append([record.log["id"] for record in records])
        await insert_records(target, records)

    monkeypatch.setattr(writer_module, "insert_records", counting)
    writer = QueryLogWriter(store, batch_size=2, flush_interval_s=30, retention_days=0)
    async with writer.running():
        await anyio.sleep(0.01)  # the loop is waiting
        for index in range(2):
            writer.submit(make_record(f"q{index}", NOW + index, calls=[{"tool_id": "t"}], steps=[{}]))
        with anyio.fail_after(5):  # a full batch wakes the loop at once
            while len(await _ids(store)) < 2:  # noqa: ASYNC110 - polling the database
                await anyio.sleep(0.01)
        writer.submit(make_record("q2", NOW + 2, calls=[{"tool_id": "t"}], steps=[{}]))
        await anyio.sleep(0.1)
        assert (writer.pending, len(await _ids(store))) == (1, 2)  # a lone record waits for the interval
    assert await _ids(store) == ["q0", "q1", "q2"]  # ... or for shutdown, which flushes it
    assert batches == [["q0", "q1"], ["q2"]]  # one transaction per batch
    assert len(await rows(store, "tool_calls")) == 3
    assert len(await rows(store, "query_steps")) == 3
    assert (writer.written, writer.dropped, writer.failed) == (3, 0, 0)


@pytest.mark.usefixtures("project")
async def test_close_without_a_loop_flushes_what_is_queued(store: Store) -> None:
    writer = QueryLogWriter(store, retention_days=0)
    writer.submit(make_record("q1", NOW))
    assert await _ids(store) == []  # nothing is written on the run path
    await writer.close()
    assert await _ids(store) == ["q1"]


@pytest.mark.usefixtures("project")
async def test_a_full_queue_drops_new_records_counts_them_and_warns(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    writer = QueryLogWriter(store, max_queue=2, retention_days=0)
    with caplog.at_level(logging.WARNING, logger="inkeep_runtime.observe.writer"):
        for index in range(4):
            writer.submit(make_record(f"q{index}", NOW + index))
    assert (writer.pending, writer.dropped) == (2, 2)
    assert len([r for r in caplog.records if "queue full" in r.message]) == 1  # one warning per minute
    await writer.flush()
    assert await _ids(store) == ["q0", "q1"]


@pytest.mark.usefixtures("project")
async def test_a_bad_record_costs_only_itself(store: Store) -> None:
    writer = QueryLogWriter(store, retention_days=0)
    writer.submit(make_record("q1", NOW))
    writer.submit(make_record("q2", NOW, project_id="gone"))  # no such project: the foreign key fails
    writer.submit(make_record("q3", NOW))
    await writer.flush()
    assert await _ids(store) == ["q1", "q3"]
    assert (writer.written, writer.failed) == (2, 1)


@pytest.mark.usefixtures("project")
async def test_retention_deletes_old_queries_with_their_rows(store: Store) -> None:
    old = make_record("old", NOW - 31 * DAY_MS, calls=[{"tool_id": "t"}], steps=[{}])
    recent = make_record("recent", NOW - 29 * DAY_MS, calls=[{"tool_id": "t"}], steps=[{}])
    await insert_records(store, [old, recent])
    writer = QueryLogWriter(store, retention_days=30, flush_interval_s=0.01, clock=lambda: NOW)
    async with writer.running():
        with anyio.fail_after(5):
            while await _ids(store) != ["recent"]:  # noqa: ASYNC110 - polling the database
                await anyio.sleep(0.01)
    assert [c["query_id"] for c in await rows(store, "tool_calls")] == ["recent"]
    assert [s["query_id"] for s in await rows(store, "query_steps")] == ["recent"]
