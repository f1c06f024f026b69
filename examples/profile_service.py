"""The demo user-profile service of graphs/customer-support.json (its `userProfile` context variable).

`make serve` starts it on http://127.0.0.1:3012 next to the runtime. The graph's context config
fetches `GET /users/{userId}` once per conversation (trigger `initialization`), with the `userId`
of the chat request's `requestContext`, and the router greets the customer by name. Run it alone with:

    .venv/bin/python examples/profile_service.py --port 3012
    curl http://127.0.0.1:3012/users/ada

Unknown users get a 404, and the graph then uses the variable's `defaultValue`.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PROFILES = {
    "ada": {"id": "ada", "name": "Ada Lovelace", "email": "ada@example.com", "plan": "Pro", "since": "2023-04-01"},
    "grace": {
        "id": "grace",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "plan": "Enterprise",
        "since": "2021-09-15",
    },
    "alan": {"id": "alan", "name": "Alan Turing", "email": "alan@example.com", "plan": "Free", "since": "2024-02-10"},
}


async def user(request: Request) -> JSONResponse:
    """One user's profile, or 404."""
    profile = PROFILES.get(request.path_params["user_id"])
    if profile is None:
        return JSONResponse({"error": f"No user {request.path_params['user_id']!r}."}, status_code=404)
    return JSONResponse(profile)


app = Starlette(routes=[Route("/users/{user_id}", user)])


def main() -> None:
    """Serve the profiles over HTTP."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3012)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
