"""The raw-HTTP ceiling: a relay that forwards an upstream SSE stream line by line, and nothing else.

`python -m bench.relay --port 0 --upstream http://127.0.0.1:U` serves `POST /v1/chat/completions` on the
same server stack as the runtime (uvicorn with its default HTTP implementation, Starlette, one worker):
the body is sent upstream unchanged through one shared `httpx.AsyncClient`, and every non-empty line of
the answer goes back as its own SSE event through a plain `StreamingResponse`. No JSON is parsed, no
objects are built per chunk. Whatever the runtime spends per token beyond this is its own work
(upstream parsing, events, re-encoding, bookkeeping). Prints `listening on PORT` once ready.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["create_relay", "main"]


def create_relay(upstream: str) -> Starlette:
    """The relay app, forwarding `/v1/chat/completions` to `upstream` (a base URL without `/v1`)."""
    clients: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=1000)
        async with httpx.AsyncClient(base_url=upstream, limits=limits, timeout=60) as client:
            clients.append(client)
            yield

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def chat(request: Request) -> Response:
        body = await request.body()
        client = clients[0]

        async def lines() -> AsyncIterator[bytes]:
            headers = {"content-type": "application/json"}
            async with client.stream("POST", "/v1/chat/completions", content=body, headers=headers) as upstream:
                async for line in upstream.aiter_lines():
                    if line:
                        yield f"{line}\n\n".encode()

        return StreamingResponse(lines(), media_type="text/event-stream", headers={"cache-control": "no-cache"})

    routes = [Route("/health", health, methods=["GET"]), Route("/v1/chat/completions", chat, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    """Parse the flags and serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start).")
    parser.add_argument("--upstream", required=True, help="Base URL of the fake model, e.g. http://127.0.0.1:8001")
    args = parser.parse_args()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    print(f"listening on {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        create_relay(args.upstream), log_level="warning", access_log=False, lifespan="on", backlog=4096
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
