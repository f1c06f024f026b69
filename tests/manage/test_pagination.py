"""Pagination of every list route: bounds, defaults, page counts and pages past the end."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
async def agents(client: httpx.AsyncClient, project: str) -> str:
    """25 agents a00..a24 in project p1; return the list URL."""
    for n in range(25):
        response = await client.post(f"{project}/agents", json={"id": f"a{n:02d}", "name": "A", "instructions": "x"})
        assert response.status_code == 201
    return f"{project}/agents"


async def test_default_is_page_1_of_10(client: httpx.AsyncClient, agents: str) -> None:
    body = (await client.get(agents)).json()
    assert [a["id"] for a in body["data"]] == [f"a{n:02d}" for n in range(10)]
    assert body["pagination"] == {"page": 1, "limit": 10, "total": 25, "pages": 3}


@pytest.mark.parametrize(("limit", "pages"), [(1, 25), (7, 4), (25, 1), (100, 1)])
async def test_pages_is_total_over_limit_rounded_up(
    client: httpx.AsyncClient, agents: str, limit: int, pages: int
) -> None:
    body = (await client.get(agents, params={"limit": limit})).json()
    assert body["pagination"] == {"page": 1, "limit": limit, "total": 25, "pages": pages}
    assert len(body["data"]) == min(limit, 25)


async def test_last_page_holds_the_rest(client: httpx.AsyncClient, agents: str) -> None:
    body = (await client.get(agents, params={"page": 3, "limit": 10})).json()
    assert [a["id"] for a in body["data"]] == [f"a{n:02d}" for n in range(20, 25)]


async def test_pages_together_list_every_row_once(client: httpx.AsyncClient, agents: str) -> None:
    seen: list[str] = []
    for page in range(1, 5):
        seen += [a["id"] for a in (await client.get(agents, params={"page": page, "limit": 7})).json()["data"]]
    assert seen == [f"a{n:02d}" for n in range(25)]


async def test_page_past_the_end_is_empty_with_the_total(client: httpx.AsyncClient, agents: str) -> None:
    body = (await client.get(agents, params={"page": 9})).json()
    assert body == {"data": [], "pagination": {"page": 9, "limit": 10, "total": 25, "pages": 3}}


async def test_empty_list_has_zero_pages(client: httpx.AsyncClient, project: str) -> None:
    body = (await client.get(f"{project}/agents")).json()
    assert body["pagination"] == {"page": 1, "limit": 10, "total": 0, "pages": 0}


async def test_blank_parameters_mean_the_defaults(client: httpx.AsyncClient, agents: str) -> None:
    body = (await client.get(f"{agents}?page=&limit=")).json()
    assert body["pagination"]["page"] == 1
    assert body["pagination"]["limit"] == 10


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "query.page"),
        ({"page": -1}, "query.page"),
        ({"page": "two"}, "query.page"),
        ({"page": "1.5"}, "query.page"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"limit": "ten"}, "query.limit"),
    ],
)
async def test_out_of_range_or_non_integer_is_400_naming_the_parameter(
    client: httpx.AsyncClient, agents: str, params: dict[str, object], field: str
) -> None:
    response = await client.get(agents, params=params)
    assert response.status_code == 400
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert field in body["detail"]


async def test_both_bad_parameters_are_named(client: httpx.AsyncClient, agents: str) -> None:
    response = await client.get(agents, params={"page": "x", "limit": 1000})
    assert {e["field"] for e in response.json()["errors"]} == {"query.page", "query.limit"}


@pytest.mark.parametrize(
    "path", ["", "/p1/agent-relations", "/p1/tools", "/p1/credentials", "/p1/agent-tool-relations"]
)
async def test_every_list_route_validates_limit(client: httpx.AsyncClient, project: str, path: str) -> None:
    response = await client.get(f"/tenants/t1/crud/projects{path}", params={"limit": 101})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]


async def test_projects_are_paginated(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.post("/tenants/t9/crud/projects", json={"id": f"p{n}", "name": "P", "description": "d"})
    body = (await client.get("/tenants/t9/crud/projects", params={"page": 2, "limit": 2})).json()
    assert [p["id"] for p in body["data"]] == ["p2"]
    assert body["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2}
