"""Manage a graph through the CRUD API with httpx: create a project, push a graph, read it back.

Run against a server started with `make serve`:

    .venv/bin/python examples/manage_graph.py http://127.0.0.1:3002
"""

from __future__ import annotations

import json
import os
import sys

import httpx

GRAPH = {
    "id": "hello",
    "name": "Hello graph",
    "defaultAgentId": "greeter",
    "agents": {
        "greeter": {
            "id": "greeter",
            "name": "Greeter",
            "description": "Greets and hands questions to the helper.",
            "instructions": "Greet the user, then transfer questions to the helper.",
            "canTransferTo": ["helper"],
        },
        "helper": {
            "id": "helper",
            "name": "Helper",
            "description": "Answers questions.",
            "instructions": "Answer briefly and accurately.",
        },
    },
    "tools": {},
}


def main(base_url: str) -> None:
    """Create project `examples`, put the graph, and print what the server stored."""
    headers = {}
    if token := os.environ.get("INKEEP_ADMIN_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        project = client.post(
            "/tenants/default/crud/projects",
            json={"id": "examples", "name": "Examples", "description": "Created by examples/manage_graph.py"},
        )
        if project.status_code not in (201, 409):  # 409: it exists from an earlier run
            project.raise_for_status()
        client.put("/tenants/default/crud/projects/examples/graph/hello", json=GRAPH).raise_for_status()
        stored = client.get("/tenants/default/crud/projects/examples/graph/hello").raise_for_status().json()["data"]
        print(json.dumps({"id": stored["id"], "agents": sorted(stored["agents"])}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3002")
