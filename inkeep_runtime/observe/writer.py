"""The query-log write queue: runs hand over finished records; one background task stores them in batches.

Recording must never slow a run down, so the run path only calls `QueryLogWriter.submit`, a
synchronous append to an in-memory queue (no await, no I/O). The app's lifespan runs `run()` in its
task group; it wakes every `flush_interval_s`, or as soon as `batch_size` records are waiting, and
inserts up to `batch_size` records (with their steps and tool calls) in **one transaction**.

Guarantees and limits (also in the README, "Query logs"):

* **Bounded memory.** The queue holds at most `max_queue` records. When it is full, the newest record
  is **dropped**, counted in `dropped` and reported by a warning in the log (at most one per minute,
  with the running count). Runs are never blocked or failed by logging.
* **Shutdown flushes.** The lifespan calls `close()` on shutdown, which stores everything still queued
  (bounded by a shielded timeout) before the store closes.
* **A crash loses at most what was not yet written**: the records waiting in the queue plus the batch in
  flight, i.e. at most about `flush_interval_s` worth of runs (a batch is one transaction, so it is
  either stored whole or not at all; no query is ever half-written).
* **A failed batch** (e.g. a project deleted meanwhile, so a foreign key fails) is retried record by
  record, so one bad record costs only itself; records that still fail are dropped with a warning and
  counted in `failed`. A busy or unreachable database (`StoreUnavailable`) puts the batch back at the
  head of the queue, for the next wake-up.
* **Retention.** Every `retention_interval_s` (and once at start) queries older than
  `Settings.query_log_retention_days` are deleted with their steps and tool calls; 0 keeps them forever.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Final

import anyio

from inkeep_runtime.errors import StoreUnavailable
from inkeep_runtime.observe.record_values import epoch_ms
from inkeep_runtime.store.engine import Store
from inkeep_runtime.store.query_logs import QueryRecord, delete_before, insert_records

__all__ = ["DAY_MS", "QueryLogWriter"]

logger = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
_WARN_INTERVAL_S: Final = 60.0
_SHUTDOWN_FLUSH_S: Final = 10.0
"""Longest the final flush may hold up shutdown."""


class QueryLogWriter:
    """Stores query records off the run path (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = 10_000,
        batch_size: int = 200,
        flush_interval_s: float = 0.5,
        retention_days: int = 30,
        retention_interval_s: float = 3600.0,
        clock: Callable[[], int] = epoch_ms,
    ) -> None:
        self._store = store
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retention_days = retention_days
        self._retention_interval_s = retention_interval_s
        self._clock = clock
        self._queue: deque[QueryRecord] = deque()
        self._wake: anyio.Event | None = None
        """Set to wake the loop early (created by `run`: anyio events need a running event loop)."""
        self._stopped: anyio.Event | None = None
        self._is_closing = False
        self._last_warning = -_WARN_INTERVAL_S
        self._next_retention = 0.0
        self.dropped = 0
        """Records refused because the queue was full."""
        self.failed = 0
        """Records the database refused (dropped after a record-by-record retry)."""
        self.written = 0
        """Records stored."""

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return len(self._queue)

    def submit(self, record: QueryRecord) -> None:
        """Queue a finished run's record; never blocks (a full queue drops it, see the module docstring)."""
        if len(self._queue) >= self._max_queue:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_warning >= _WARN_INTERVAL_S:
                self._last_warning = now
                logger.warning(
                    "query-log queue full (%d records): dropped query %s (%d dropped so far)",
                    self._max_queue,
                    record.log.get("id"),
                    self.dropped,
                )
            return
        self._queue.append(record)
        if len(self._queue) >= self._batch_size and self._wake is not None:
            self._wake.set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the write loop for the duration of the block; flush on the way out (the app's lifespan)."""
        async with anyio.create_task_group() as group:
            group.start_soon(self.run)
            try:
                yield
            finally:
                with anyio.move_on_after(_SHUTDOWN_FLUSH_S, shield=True):
                    await self.close()
                group.cancel_scope.cancel()  # only matters when the flush timed out

    async def run(self) -> None:
        """Write batches until `close()`; run it in the lifespan's task group."""
        stopped = self._stopped = anyio.Event()
        try:
            while not self._is_closing:
                wake = self._wake = anyio.Event()
                if len(self._queue) < self._batch_size:
                    with anyio.move_on_after(self._flush_interval_s):
                        await wake.wait()
                await self.flush()
                await self._apply_retention()
        finally:
            stopped.set()

    async def flush(self) -> None:
        """Write everything queued now, batch by batch (a busy database leaves the rest for later)."""
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            if not await self._write(batch):
                return

    async def close(self) -> None:
        """Stop the loop after a final flush (or flush here when no loop runs)."""
        self._is_closing = True
        if self._wake is not None:
            self._wake.set()
        if self._stopped is not None:
            await self._stopped.wait()
        await self.flush()

    async def _write(self, batch: list[QueryRecord]) -> bool:
        """Store `batch`; False when the database is unavailable (the batch is queued again)."""
        try:
            await insert_records(self._store, batch)
        except StoreUnavailable:
            self._queue.extendleft(reversed(batch))
            return False
        except Exception:
            logger.warning("could not store a batch of %d query logs; retrying one by one", len(batch), exc_info=True)
            for record in batch:
                await self._write_one(record)
            return True
        self.written += len(batch)
        return True

    async def _write_one(self, record: QueryRecord) -> None:
        try:
            await insert_records(self._store, [record])
        except Exception as exc:
            self.failed += 1
            logger.warning("dropped the query log of run %s: %s", record.log.get("id"), type(exc).__name__)
        else:
            self.written += 1

    async def _apply_retention(self) -> None:
        if self._retention_days <= 0 or time.monotonic() < self._next_retention:
            return
        self._next_retention = time.monotonic() + self._retention_interval_s
        cutoff = self._clock() - self._retention_days * DAY_MS
        try:
            deleted = await delete_before(self._store, cutoff)
        except Exception:
            logger.warning("could not delete old query logs", exc_info=True)
            return
        if deleted:
            logger.info("deleted %d query logs older than %d days", deleted, self._retention_days)
