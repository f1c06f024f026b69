"""A client that goes away cancels its run within a second (real uvicorn: test transports never disconnect)."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette

from inkeep_runtime import Settings
from inkeep_runtime.http import chat
from inkeep_runtime.store.engine import Store
from tests.http.runs import CHAT, TEXT_RUN, UI_CHAT, ScriptedRunner, make_app, served_client

HELLO_OPENAI = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
HELLO_UI = {"id": "chat-1", "messages": [{"role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}
STREAMS = pytest.mark.parametrize(("path", "body"), [(CHAT, HELLO_OPENAI), (UI_CHAT, HELLO_UI)], ids=["openai", "ui"])


@pytest.fixture
def backend() -> str:
    """The routes do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture
def settings() -> Settings:
    """Development mode: no API key needed."""
    return Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True)


@pytest.fixture
def runner() -> ScriptedRunner:
    """A runner that says "Hel" and then waits forever."""
    return ScriptedRunner(TEXT_RUN[:3], is_blocking=True)


@pytest.fixture
def app(settings: Settings, store: Store, runner: ScriptedRunner) -> Starlette:
    """The app under test."""
    return make_app(settings, store, runner)


async def _seconds_until_stopped(runner: ScriptedRunner, since: float) -> float:
    with anyio.move_on_after(3):
        while runner.stopped_at is None:  # noqa: ASYNC110 - the runner is a plain test double
            await anyio.sleep(0.01)
    assert runner.stopped_at is not None, "the run was never stopped"
    return runner.stopped_at - since


@STREAMS
async def test_disconnect_mid_stream_cancels_the_run(
    app: Starlette, runner: ScriptedRunner, path: str, body: dict[str, Any]
) -> None:
    async with served_client(app) as http:
        async with http.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if '"Hel"' in line:
                    break
            await runner.blocked.wait()
        closed_at = time.monotonic()  # leaving the block closes the connection mid-body
        assert await _seconds_until_stopped(runner, closed_at) < 1.0
        assert runner.stopped_by is asyncio.CancelledError
        assert (await http.get("/health")).status_code == 200


async def test_disconnect_while_collecting_a_completion_cancels_the_run(app: Starlette, runner: ScriptedRunner) -> None:
    async with served_client(app) as http:
        async with anyio.create_task_group() as group:
            group.start_soon(functools.partial(http.post, CHAT, json={**HELLO_OPENAI, "stream": False}))
            await runner.blocked.wait()
            group.cancel_scope.cancel()  # the client gives up: httpx closes the connection
        closed_at = time.monotonic()
        assert await _seconds_until_stopped(runner, closed_at) < 1.0
        assert runner.stopped_by is asyncio.CancelledError


@STREAMS
async def test_quiet_streams_get_keep_alive_comments(
    app: Starlette, runner: ScriptedRunner, monkeypatch: pytest.MonkeyPatch, path: str, body: dict[str, Any]
) -> None:
    monkeypatch.setattr(chat, "PING_INTERVAL_S", 0.05)
    async with served_client(app) as http, http.stream("POST", path, json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                assert line.startswith(": ping")
                break
    assert await _seconds_until_stopped(runner, time.monotonic()) < 1.0
