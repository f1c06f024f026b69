"""Real HTTP servers inside the test's event loop: `serve(app)` runs any ASGI app with uvicorn on loopback.

Why not `uvicorn.Server.serve()` in a task: a task spanning a pytest-asyncio fixture's `yield` would be
entered and exited from different tasks (fixture set-up and tear-down run as separate tasks), and
`serve()` also swaps the process's SIGINT/SIGTERM handlers. Instead we drive the server's own
`startup()` and a short graceful shutdown directly; the asyncio server then accepts connections from
the event loop without any task of ours, so `serve()` works in tests, in fixtures, and for several
servers at once. Like uvicorn's own `tests/utils.py::run_server`, this leans on `Server` internals
(`servers`, `server_state`, `lifespan`) pinned by the uvicorn version in pyproject.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn
from starlette.types import ASGIApp

__all__ = ["serve"]


@asynccontextmanager
async def serve(app: ASGIApp, *, port: int = 0, grace_s: float = 2.0) -> AsyncIterator[str]:
    """Serve `app` on `127.0.0.1`; yield its base URL (`http://127.0.0.1:PORT`).

    Args:
        app: Any ASGI application; its lifespan runs when it has one.
        port: 0 for a free port, or the port of an earlier server to simulate a restart.
        grace_s: How long shutdown waits for in-flight responses before cancelling them.

    Raises:
        RuntimeError: The app's lifespan start-up failed.
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http="h11", ws="none", lifespan="auto", log_level="warning", access_log=False
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup()
    except SystemExit as exc:  # uvicorn exits the process when the lifespan start-up fails
        msg = "The ASGI app under test failed its lifespan start-up (see the log above)."
        raise RuntimeError(msg) from exc
    await server.on_tick(0)  # sets the default headers (date, server) once
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        with anyio.CancelScope(shield=True):
            await _shutdown(server, grace_s)


async def _shutdown(server: uvicorn.Server, grace_s: float) -> None:
    """uvicorn's `Server.shutdown()` without its fixed 0.1 s sleep, which every test would pay."""
    for listener in server.servers:
        listener.close()
    state = server.server_state
    for connection in list(state.connections):
        connection.shutdown()  # closes idle keep-alive connections now, busy ones after their response
    with anyio.move_on_after(grace_s):
        while state.connections or state.tasks:  # noqa: ASYNC110 - uvicorn has no event for "all closed"
            await anyio.sleep(0.005)
    for task in list(state.tasks):
        task.cancel()
    for connection in list(state.connections):
        connection.transport.close()
    for listener in server.servers:
        await listener.wait_closed()
    await server.lifespan.shutdown()
