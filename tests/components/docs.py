"""Graph documents with data and artifact components, scripted answers, and the AI SDK parser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.graph.harness import agent, graph_doc

NODE_DIR = Path(__file__).parents[1] / "node"
needs_ai = pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / "ai").is_dir() or shutil.which("node") is None,
    reason="the `ai` package is not installed: run `npm ci --no-audit --no-fund --prefix tests/node`",
)

TICKET: dict[str, Any] = {
    "id": "ticket-card",
    "name": "TicketCard",
    "description": "A support ticket the user can track.",
    "props": {
        "type": "object",
        "properties": {
            "ticketId": {"type": "string"},
            "priority": {"type": "string", "enum": ["low", "normal", "high"]},
            "subject": {"type": "string"},
        },
        "required": ["ticketId", "priority", "subject"],
        "additionalProperties": False,
    },
}
CITATION: dict[str, Any] = {
    "id": "citation",
    "name": "Citation",
    "description": "A document the answer relies on.",
    "summaryProps": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "url": {"type": "string"}},
        "required": ["title", "url"],
    },
    "fullProps": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "url": {"type": "string"}, "body": {"type": "string"}},
        "required": ["title", "url", "body"],
    },
}


def components_doc(base_url: str, *, servers: dict[str, Any] | None = None, **agent_fields: Any) -> dict[str, Any]:
    """One agent `support` with the TicketCard data component (plus `agent_fields`), on the fake model."""
    fields = {"dataComponents": ["ticket-card"], **agent_fields}
    return graph_doc(
        base_url,
        [agent("support", **fields)],
        dataComponents={"ticket-card": TICKET},
        artifactComponents={"citation": CITATION},
        tools=servers or {},
    )


def envelope(*items: dict[str, Any]) -> str:
    """The structured answer a model would send."""
    return json.dumps({"dataComponents": list(items)})


def text_item(text: str, item_id: str = "t1") -> dict[str, Any]:
    return {"id": item_id, "name": "Text", "props": {"text": text}}


def ticket_item(priority: str = "high", item_id: str = "tk1") -> dict[str, Any]:
    return {
        "id": item_id,
        "name": "TicketCard",
        "props": {"ticketId": "T-42", "priority": priority, "subject": "Refund"},
    }


def pieces(text: str, size: int = 9) -> list[str]:
    """`text` in chunks of `size` characters, as a model streams JSON."""
    return [text[start : start + size] for start in range(0, len(text), size)]


async def parse_with_ai_sdk(body: str) -> dict[str, Any]:
    """Feed an SSE body to `ai`'s own parser and fold it; return its result line."""
    done = await anyio.run_process(["node", str(NODE_DIR / "parse_ui_stream.mjs")], input=body.encode(), check=False)
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["ok"], result["error"]
    assert result["done"]
    return result
