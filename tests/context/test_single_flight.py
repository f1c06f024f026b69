"""Concurrent turns that need the same value share one fetch, also when the fetching turn goes away."""

from __future__ import annotations

import anyio

from inkeep_runtime.context import ContextService
from inkeep_runtime.context.resolver import _Outcome
from inkeep_runtime.store.engine import Store


def service() -> ContextService:
    return ContextService(Store.open("sqlite+aiosqlite:///:memory:"))  # the cache is not touched here


async def test_concurrent_callers_of_one_key_share_one_call() -> None:
    flights, calls, results = service(), [], []

    async def work() -> _Outcome:
        calls.append(1)
        await anyio.sleep(0.05)
        return _Outcome(value=len(calls), is_ok=True)

    async def caller() -> None:
        results.append(await flights.single_flight("k", work))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(caller)
    assert len(calls) == 1
    assert sorted((outcome.value, shared) for outcome, shared in results) == [(1, False), (1, True), (1, True)]
    assert await flights.single_flight("k", work) == (_Outcome(value=2, is_ok=True), False)  # over: a new call


async def test_a_waiter_takes_over_when_the_fetching_caller_is_cancelled() -> None:
    flights, calls, results = service(), [], []
    started = anyio.Event()

    async def work() -> _Outcome:
        calls.append(1)
        started.set()
        await anyio.sleep(0.05)
        return _Outcome(value="fetched", is_ok=True)

    async def waiter() -> None:
        results.append(await flights.single_flight("k", work))

    leader = anyio.CancelScope()
    async with anyio.create_task_group() as group:
        group.start_soon(_lead, flights, work, leader)
        await started.wait()
        group.start_soon(waiter)
        group.start_soon(waiter)
        await anyio.sleep(0.01)
        leader.cancel()
    assert len(calls) == 2  # the cancelled one, then one for both waiters
    assert sorted(shared for _, shared in results) == [False, True]


async def _lead(flights: ContextService, work: object, scope: anyio.CancelScope) -> None:
    with scope:
        await flights.single_flight("k", work)  # type: ignore[arg-type]
