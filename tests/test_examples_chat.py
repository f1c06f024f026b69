"""The chat examples (`examples/chat_openai.py`, `examples/chat_ai_sdk.mjs`) run against real servers.

First against the HTTP layer with a scripted runner (always), then end to end against `inkeep-runtime
serve` with the example graphs and the graph executor (once the executor exists).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from inkeep_runtime import Settings
from inkeep_runtime.store.engine import Store
from tests.fakes.servers import serve
from tests.http.runs import ScriptedRunner, make_app
from tests.servers import ROOT, running_runtime

OPENAI_EXAMPLE = [sys.executable, str(ROOT / "examples" / "chat_openai.py")]
AI_SDK_EXAMPLE = ["node", str(ROOT / "examples" / "chat_ai_sdk.mjs")]
needs_ai = pytest.mark.skipif(
    not (ROOT / "tests" / "node" / "node_modules" / "ai").is_dir() or shutil.which("node") is None,
    reason="the `ai` package is not installed: run `npm ci --no-audit --no-fund --prefix tests/node`",
)
needs_executor = pytest.mark.skipif(
    importlib.util.find_spec("inkeep_runtime.graph.executor") is None,
    reason="the graph executor (inkeep_runtime/graph/executor.py) is not written yet",
)


@pytest.fixture
def backend() -> str:
    """SQLite only."""
    return "sqlite"


async def _run(command: list[str], base: str) -> str:
    done = await anyio.run_process([*command, base], check=False, env={"INKEEP_API_KEY": "sk_unused_in_dev"})
    output = done.stdout.decode()
    assert done.returncode == 0, output + done.stderr.decode()
    return output


async def test_openai_example_streams_and_continues_the_conversation(store: Store) -> None:
    runner = ScriptedRunner()
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True)
    async with serve(make_app(settings, store, runner)) as base:
        output = await _run(OPENAI_EXAMPLE, base)
    assert output.count("assistant: Hello") == 2
    assert "(conversation: conv-new)" in output
    first, second = (request for _, request in runner.requests)
    assert (first.conversation_id, second.conversation_id) == (None, "conv-new")
    assert runner.requests[0][0].graph_id == "customer-support"


@needs_ai
async def test_ai_sdk_example_prints_the_assembled_message(store: Store) -> None:
    runner = ScriptedRunner()
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", dev=True)
    async with serve(make_app(settings, store, runner)) as base:
        output = await _run(AI_SDK_EXAMPLE, base)
    assert "assistant: Hello" in output
    result = json.loads(output.splitlines()[-1])
    assert result["conversationId"] == runner.last_request.conversation_id
    assert [part["type"] for part in result["message"]["parts"]] == ["step-start", "text"]


@needs_executor
def test_examples_run_end_to_end_with_an_api_key(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/inkeep.db"
    with running_runtime("--database-url", database, "--graphs", "graphs") as (base, _lines):
        created = httpx.post(
            f"{base}/tenants/default/crud/projects/default/api-keys", json={"graphId": "customer-support"}
        )
        assert created.status_code == 201, created.text
        env = {"PATH": "/usr/bin:/bin", "INKEEP_API_KEY": created.json()["data"]["key"]}
        results = [
            subprocess.run([*command, base], capture_output=True, text=True, timeout=60, env=env, check=False)
            for command in (OPENAI_EXAMPLE, AI_SDK_EXAMPLE)
            if command[0] != "node" or shutil.which("node")
        ]
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "assistant: " in result.stdout
        assert "conversation: " in result.stdout
