"""The example customer-support graph greets the customer with the profile its context config fetches.

End to end: the real app, `examples/profile_service.py` as the profile service, a fake model that
greets whoever the rendered instructions name, and the AI SDK's own parser assembling the message.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from inkeep_runtime import Settings, create_app
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan
from tests.fakes.fake_llm import FakeLLM, RecordedRequest, Turn
from tests.fakes.servers import serve
from tests.graph.harness import push

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
UI_CHAT = "/tenants/t1/projects/p1/graphs/g/api/chat"
needs_ai = pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / "ai").is_dir() or shutil.which("node") is None,
    reason="the `ai` package is not installed: run `npm ci --no-audit --no-fund --prefix tests/node`",
)


@pytest.fixture
def backend() -> str:
    """The wire and the executor together; SQLite is enough."""
    return "sqlite"


def _profile_app() -> Any:
    spec = importlib.util.spec_from_file_location("profile_service", ROOT / "examples" / "profile_service.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _counting(app: ASGIApp, paths: list[str]) -> ASGIApp:
    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            paths.append(scope["path"])
        await app(scope, receive, send)

    return counted


def _greet(record: RecordedRequest) -> Turn:
    """Greet the customer the system prompt names, as a model following the router's instructions would."""
    found = re.search(r"The customer is (.+?) \(plan: (.+?)\)", str(record.messages[0]["content"]))
    assert found is not None, record.messages[0]["content"]
    return Turn.text(f"Hello {found[1]} ({found[2]} plan), how can I help?")


async def _chat(http: httpx.AsyncClient, text: str, **fields: Any) -> str:
    message = {"id": f"u-{text[:8]}", "role": "user", "parts": [{"type": "text", "text": text}]}
    response = await http.post(UI_CHAT, json={"id": "chat-ada", "messages": [message], **fields})
    assert response.status_code == 200, response.text
    return response.text


async def _parse_with_ai_sdk(body: str) -> dict[str, Any]:
    done = await anyio.run_process(["node", str(NODE_DIR / "parse_ui_stream.mjs")], input=body.encode(), check=False)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["ok"], result["error"]
    return result


@needs_ai
async def test_the_router_greets_the_customer_by_the_fetched_profile(
    store: Store, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    paths: list[str] = []
    async with serve(_counting(_profile_app(), paths)) as profiles:
        document = json.loads((ROOT / "graphs" / "customer-support.json").read_text())
        document["id"] = "g"
        document["modelSettings"] = {
            "model": "openai/fake",
            "providerOptions": {"api_base": fake_llm.base_url, "api_key": "sk-test"},
        }
        fetch = document["contextConfig"]["contextVariables"]["userProfile"]["fetchConfig"]
        fetch["url"] = fetch["url"].replace("http://127.0.0.1:3012", profiles)
        await push(store, tmp_path, document)
        fake_llm.responder = _greet
        app = create_app(Settings(dev=True), store=store)
        transport = httpx.ASGITransport(app=app)
        async with running_lifespan(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            first = await _chat(http, "Hi, I have a question", requestContext={"userId": "ada"})
            second = await _chat(http, "Are you still there?")  # the conversation keeps its request context
            missing = await http.post(
                UI_CHAT, json={"messages": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}]}
            )
    assert paths == ["/users/ada"]  # fetched once for the conversation (trigger: initialization)
    for body in (first, second):
        parsed = await _parse_with_ai_sdk(body)
        texts = [part["text"] for part in parsed["message"]["parts"] if part["type"] == "text"]
        assert texts == ["Hello Ada Lovelace (Pro plan), how can I help?"]
    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        {
            "field": "requestContext.userId",
            "pointer": "/requestContext/userId",
            "message": "Field required.",
            "expected": "present",
        }
    ]
