"""Request limits and malformed input: 413, bad JSON, non-object bodies, unknown routes, request ids."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from inkeep_runtime import Settings

LIMIT = 2048


@pytest.fixture
def backend() -> str:
    """Limits and structured output do not depend on the database (the CRUD and store tests cover both)."""
    return "sqlite"


@pytest.fixture
def settings() -> Settings:
    """A small body limit, so tests can cross it cheaply."""
    return Settings(database_url="sqlite+aiosqlite:///:memory:", max_body_bytes=LIMIT)


def _big_agent(agent_id: str = "a") -> dict[str, str]:
    return {"id": agent_id, "name": "A", "instructions": "x" * (LIMIT + 1)}


async def _chunks(data: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_body_over_the_limit_is_413_problem(client: httpx.AsyncClient, project: str) -> None:
    response = await client.post(f"{project}/agents", json=_big_agent())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"]) == (413, "payload_too_large")
    assert str(LIMIT) in body["detail"]


async def test_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient, project: str) -> None:
    request = client.build_request("POST", f"{project}/agents", content=_chunks(json.dumps(_big_agent()).encode()))
    assert "content-length" not in request.headers
    response = await client.send(request)
    assert response.status_code == 413
    assert (await client.get(f"{project}/agents/a")).status_code == 404


async def test_chunked_body_within_the_limit_is_accepted(client: httpx.AsyncClient, project: str) -> None:
    data = json.dumps({"id": "a", "name": "A", "instructions": "x" * 1000}).encode()
    response = await client.send(client.build_request("POST", f"{project}/agents", content=_chunks(data, 100)))
    assert response.status_code == 201


async def test_lying_content_length_cannot_smuggle_a_big_body(client: httpx.AsyncClient, project: str) -> None:
    data = json.dumps(_big_agent()).encode()
    request = client.build_request("POST", f"{project}/agents", content=_chunks(data))
    request.headers["content-length"] = "10"
    response = await client.send(request)
    assert response.status_code == 413


async def test_body_exactly_at_the_limit_is_accepted(client: httpx.AsyncClient, project: str) -> None:
    head = json.dumps({"id": "a", "name": "A", "instructions": ""}).encode()
    data = json.dumps({"id": "a", "name": "A", "instructions": "x" * (LIMIT - len(head))}).encode()
    assert len(data) == LIMIT
    response = await client.post(f"{project}/agents", content=data, headers={"content-type": "application/json"})
    assert response.status_code == 201


async def test_rejected_update_leaves_the_row_intact(client: httpx.AsyncClient, project: str) -> None:
    created = await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "keep"})
    response = await client.put(f"{project}/agents/a", json={"instructions": "x" * (LIMIT + 1)})
    assert response.status_code == 413
    assert (await client.get(f"{project}/agents/a")).json() == created.json()


async def test_server_keeps_answering_after_413(client: httpx.AsyncClient, project: str) -> None:
    for _ in range(3):
        assert (await client.post(f"{project}/agents", json=_big_agent())).status_code == 413
    response = await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "raw", [b"{", b"{'id': 1}", b"\xff\xfe", b"   ", b""], ids=["truncated", "quotes", "bytes", "blank", "empty"]
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, project: str, raw: bytes) -> None:
    response = await client.post(f"{project}/agents", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request"
    assert body["errors"] == [{"field": "", "pointer": "/", "message": "Expected a JSON object."}]


@pytest.mark.parametrize("raw", [b"[]", b'[{"id": "a"}]', b'"text"', b"3", b"null"])
async def test_non_object_body_is_400(client: httpx.AsyncClient, project: str, raw: bytes) -> None:
    response = await client.post(f"{project}/agents", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "must be a JSON object" in response.json()["detail"]


async def test_server_keeps_answering_after_malformed_json(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", content=b"{", headers={"content-type": "application/json"})
    assert (await client.get(f"{project}/agents")).status_code == 200


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"], body["instance"]) == (404, "not_found", "/nowhere")
    assert body["detail"] == "No route matches GET /nowhere."


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient, project: str) -> None:
    response = await client.patch(f"{project}/agents", json={})
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 405
    assert body["title"] == "Method Not Allowed"
    assert "PATCH" in body["detail"]
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_request_id_is_generated(client: httpx.AsyncClient) -> None:
    first = (await client.get("/health")).headers["x-request-id"]
    second = (await client.get("/health")).headers["x-request-id"]
    assert re.fullmatch(r"req_[0-9a-f]{16}", first)
    assert first != second


async def test_sane_request_id_is_echoed_in_header_and_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"x-request-id": "abc-123_X"})
    assert response.headers["x-request-id"] == "abc-123_X"
    assert response.json()["requestId"] == "abc-123_X"


@pytest.mark.parametrize("sent", ["has space", "x" * 129, "<script>", "a\tb"])
async def test_insane_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/health", headers={"x-request-id": sent})
    assert re.fullmatch(r"req_[0-9a-f]{16}", response.headers["x-request-id"])


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
