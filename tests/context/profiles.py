"""A fake "user profile" service for context-fetch tests: a real HTTP server that counts what it serves.

Routes:
- `GET /users/{id}`: the profile (404 for unknown ids), optionally after `delay_s`.
- `GET /users/{id}/permissions`: a fresh value per call (`{"call": n}`), for `invocation` variables.
- `GET /orgs/{org}`: an organisation, for variables that depend on other variables.
- `POST /echo`: the JSON body it received.
- `GET /big`: a response larger than any sane limit.
Every request's raw path and headers are recorded.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.servers import serve

__all__ = ["PROFILES", "ProfileService", "profile_service"]

PROFILES: dict[str, dict[str, Any]] = {
    "ada": {"id": "ada", "name": "Ada Lovelace", "plan": "Pro", "orgId": "analytical", "address": {"city": "London"}},
    "grace": {"id": "grace", "name": "Grace Hopper", "plan": "Enterprise", "orgId": "navy", "address": {"city": "NYC"}},
}


@dataclass
class ProfileService:
    """The fake service and what it saw."""

    base_url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    """Requests per route kind: `user`, `permissions`, `org`, `echo`, `big`."""
    raw_paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    delay_s: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0
    """The most requests the service was answering at the same time."""
    status: int | None = None
    """Answer every request with this status instead (to simulate failures)."""

    def app(self) -> ASGIApp:
        routes = Starlette(
            routes=[
                Route("/users/{user_id}", self._user),
                Route("/users/{user_id}/permissions", self._permissions),
                Route("/orgs/{org_id}", self._org),
                Route("/echo", self._echo, methods=["POST"]),
                Route("/big", self._big),
            ]
        )

        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":  # every request, routed or not, exactly as it arrived
                query = scope["query_string"].decode()
                self.raw_paths.append(scope["raw_path"].decode() + (f"?{query}" if query else ""))
                self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await routes(scope, receive, send)

        return recording

    async def _seen(self, request: Request, kind: str) -> Response | None:
        self.hits[kind] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await anyio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.status is not None:
            return JSONResponse({"error": "failing on purpose"}, status_code=self.status)
        return None

    async def _user(self, request: Request) -> Response:
        if (failed := await self._seen(request, "user")) is not None:
            return failed
        profile = PROFILES.get(request.path_params["user_id"])
        return JSONResponse(profile) if profile else JSONResponse({"error": "no such user"}, status_code=404)

    async def _permissions(self, request: Request) -> Response:
        if (failed := await self._seen(request, "permissions")) is not None:
            return failed
        return JSONResponse({"call": self.hits["permissions"]})

    async def _org(self, request: Request) -> Response:
        if (failed := await self._seen(request, "org")) is not None:
            return failed
        return JSONResponse({"id": request.path_params["org_id"], "name": f"Org {request.path_params['org_id']}"})

    async def _echo(self, request: Request) -> Response:
        if (failed := await self._seen(request, "echo")) is not None:
            return failed
        return JSONResponse(json.loads(await request.body()))

    async def _big(self, request: Request) -> Response:
        if (failed := await self._seen(request, "big")) is not None:
            return failed
        return JSONResponse({"blob": "x" * 50_000})


@asynccontextmanager
async def profile_service() -> AsyncIterator[ProfileService]:
    """Serve a fresh `ProfileService` on loopback."""
    service = ProfileService()
    async with serve(service.app()) as url:
        service.base_url = url
        yield service
