"""Concurrent writers through the HTTP API: no lost rows, no 500s, duplicates are 409s."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx


async def test_50_concurrent_creates_of_distinct_agents_all_succeed(client: httpx.AsyncClient, project: str) -> None:
    responses = await asyncio.gather(
        *(client.post(f"{project}/agents", json={"id": f"a{n}", "name": "A", "instructions": "x"}) for n in range(50))
    )
    assert Counter(r.status_code for r in responses) == {201: 50}
    listed = (await client.get(f"{project}/agents", params={"limit": 100})).json()
    assert listed["pagination"]["total"] == 50
    assert {a["id"] for a in listed["data"]} == {f"a{n}" for n in range(50)}


async def test_20_concurrent_creates_of_the_same_id_give_one_201(client: httpx.AsyncClient, project: str) -> None:
    responses = await asyncio.gather(
        *(
            client.post(f"{project}/agents", json={"id": "same", "name": f"A{n}", "instructions": "x"})
            for n in range(20)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 19}
    winner = next(r for r in responses if r.status_code == 201).json()["data"]
    assert (await client.get(f"{project}/agents/same")).json()["data"] == winner


async def test_concurrent_creates_of_the_same_project_give_one_201(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/tenants/t1/crud/projects", json={"id": "p", "name": "P", "description": "d"})
            for _ in range(10)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}


async def test_concurrent_updates_of_one_row_keep_the_row(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    responses = await asyncio.gather(
        *(client.put(f"{project}/agents/a", json={"instructions": f"v{n}"}) for n in range(20))
    )
    assert Counter(r.status_code for r in responses) == {200: 20}
    final = (await client.get(f"{project}/agents/a")).json()["data"]
    assert final["name"] == "A"
    assert final["instructions"] in {f"v{n}" for n in range(20)}
    assert (await client.get(f"{project}/agents")).json()["pagination"]["total"] == 1


async def test_concurrent_updates_of_different_fields_are_all_kept(client: httpx.AsyncClient, project: str) -> None:
    await client.post(f"{project}/agents", json={"id": "a", "name": "A", "instructions": "x"})
    responses = await asyncio.gather(
        client.put(f"{project}/agents/a", json={"name": "N"}),
        client.put(f"{project}/agents/a", json={"description": "D"}),
        client.put(f"{project}/agents/a", json={"instructions": "I"}),
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    final = (await client.get(f"{project}/agents/a")).json()["data"]
    assert (final["name"], final["description"], final["instructions"]) == ("N", "D", "I")


async def test_concurrent_create_and_delete_never_500(client: httpx.AsyncClient, project: str) -> None:
    async def churn(n: int) -> list[int]:
        created = await client.post(f"{project}/agents", json={"id": f"c{n % 5}", "name": "A", "instructions": "x"})
        deleted = await client.delete(f"{project}/agents/c{n % 5}")
        return [created.status_code, deleted.status_code]

    codes = [code for pair in await asyncio.gather(*(churn(n) for n in range(30))) for code in pair]
    assert set(codes) <= {201, 204, 404, 409}


async def test_concurrent_reads_during_writes_succeed(client: httpx.AsyncClient, project: str) -> None:
    bodies = [{"id": f"a{n}", "name": "A", "instructions": "x"} for n in range(20)]
    writes = [client.post(f"{project}/agents", json=body) for body in bodies]
    reads = [client.get(f"{project}/agents") for _ in range(20)]
    responses = await asyncio.gather(*writes, *reads)
    assert {r.status_code for r in responses[:20]} == {201}
    assert {r.status_code for r in responses[20:]} == {200}
