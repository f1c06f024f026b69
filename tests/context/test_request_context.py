"""`requestContext` is validated against the graph's `requestContextSchema` before anything runs.

Both chat endpoints answer a violation with a 400 problem naming every failing field; nothing is stored
and no model is called. The request context also comes from the legacy `headers` field and the
`x-inkeep-request-context` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.context import parse_context_config, validate_request_context
from inkeep_runtime.errors import FieldError, InvalidRequest
from inkeep_runtime.store.conversations import ConversationStore
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.graph.harness import SCOPE, agent, graph_doc, push

pytestmark = pytest.mark.usefixtures("backend")

BASE = "/tenants/t1/projects/p1/graphs/g"
SCHEMA = {
    "type": "object",
    "properties": {
        "userId": {"type": "string", "minLength": 2},
        "tier": {"type": "integer", "minimum": 1},
        "region": {"enum": ["eu", "us"]},
        "session": {"type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]},
    },
    "required": ["userId", "region"],
}
BAD_CONTEXT = {"userId": "x", "tier": "gold", "session": {"token": 7}}
"""Five problems: userId too short, tier not an integer, region missing, session.token not a string."""


def expected_errors() -> list[dict[str, str]]:
    return [
        {
            "field": "requestContext.region",
            "pointer": "/requestContext/region",
            "message": "Field required.",
            "expected": "present",
        },
        {
            "field": "requestContext.session.token",
            "pointer": "/requestContext/session/token",
            "message": "Expected type string.",
            "expected": "string",
        },
        {
            "field": "requestContext.tier",
            "pointer": "/requestContext/tier",
            "message": "Expected type integer.",
            "expected": "integer",
        },
        {
            "field": "requestContext.userId",
            "pointer": "/requestContext/userId",
            "message": "Expected at least 2 characters.",
            "expected": "minLength: 2",
        },
    ]


DETAIL = (
    "The requestContext does not match the requestContextSchema of graph 'g' (context config 'ctx'): 4 problem(s) "
    "at /requestContext/region, /requestContext/session/token, /requestContext/tier, /requestContext/userId."
)


@pytest.fixture
async def client(store: Store, tmp_path: Path, fake_llm: FakeLLM) -> AsyncIterator[httpx.AsyncClient]:
    """The app in --dev mode over a graph whose context config has `SCHEMA` (and no variables)."""
    config = {"id": "ctx", "name": "Ctx", "requestContextSchema": SCHEMA}
    instructions = "Help user {{requestContext.userId}} in {{requestContext.region}}."
    await push(
        store, tmp_path, graph_doc(fake_llm.base_url, [agent("a", instructions=instructions)], contextConfig=config)
    )
    app = create_app(Settings(dev=True), store=store)
    transport = httpx.ASGITransport(app=app)
    async with running_lifespan(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def openai_body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Hi"}], **fields}


def ui_body(**fields: Any) -> dict[str, Any]:
    return {
        "id": "chat-1",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
        **fields,
    }


def test_every_violation_is_listed_without_its_value() -> None:
    config = parse_context_config({"id": "ctx", "request_context_schema": SCHEMA})
    with pytest.raises(InvalidRequest) as caught:
        validate_request_context(config, BAD_CONTEXT, graph_id="g")
    assert caught.value.detail == DETAIL
    assert [e.to_dict() for e in caught.value.errors] == expected_errors()
    assert "gold" not in repr(caught.value.errors)


def test_a_config_without_schema_accepts_anything() -> None:
    config = parse_context_config({"id": "ctx", "request_context_schema": None})
    validate_request_context(config, {"anything": ["goes"]}, graph_id="g")


def test_field_errors_without_expected_keep_their_old_shape() -> None:
    assert FieldError(pointer="/a", message="m").to_dict() == {"field": "a", "pointer": "/a", "message": "m"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", openai_body(requestContext=BAD_CONTEXT)),
        ("/api/chat", ui_body(requestContext=BAD_CONTEXT)),
    ],
)
async def test_both_endpoints_answer_400_naming_each_field_before_any_model_call(
    client: httpx.AsyncClient, fake_llm: FakeLLM, store: Store, path: str, body: dict[str, Any]
) -> None:
    response = await client.post(BASE + path, json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:inkeep:problem:bad_request",
        "title": "Bad Request",
        "status": 400,
        "detail": DETAIL,
        "instance": BASE + path,
        "requestId": response.headers["x-request-id"],
        "code": "bad_request",
        "error": {"code": "bad_request", "message": DETAIL},
        "errors": expected_errors(),
    }
    assert fake_llm.requests == []
    assert await ConversationStore(store).get(SCOPE, "chat-1") is None


async def test_a_missing_request_context_names_the_required_fields(client: httpx.AsyncClient) -> None:
    response = await client.post(BASE + "/v1/chat/completions", json=openai_body())
    assert response.status_code == 400
    assert [(e["pointer"], e["message"]) for e in response.json()["errors"]] == [
        ("/requestContext/region", "Field required."),
        ("/requestContext/userId", "Field required."),
    ]


@pytest.mark.parametrize(
    ("fields", "headers"),
    [
        ({"requestContext": {"userId": "ada", "region": "eu"}}, {}),
        ({"headers": {"userId": "ada", "region": "eu"}}, {}),
        ({}, {"x-inkeep-request-context": '{"userId": "ada", "region": "eu"}'}),
    ],
)
async def test_a_valid_request_context_from_body_legacy_field_or_header_renders_the_instructions(
    client: httpx.AsyncClient, fake_llm: FakeLLM, fields: dict[str, Any], headers: dict[str, str]
) -> None:
    fake_llm.add(Turn.text("Hello-Ada"))
    response = await client.post(BASE + "/api/chat", json=ui_body(**fields), headers=headers)
    assert response.status_code == 200
    assert '"delta":"Hello-Ada"' in response.text
    assert fake_llm.requests[0].messages[0]["content"].startswith("Help user ada in eu.")


async def test_a_malformed_context_header_is_a_400_naming_the_header(client: httpx.AsyncClient) -> None:
    response = await client.post(
        BASE + "/v1/chat/completions", json=openai_body(), headers={"x-inkeep-request-context": "[1, 2]"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "header.x-inkeep-request-context",
            "pointer": "header.x-inkeep-request-context",
            "message": "Expected a JSON object.",
        }
    ]
