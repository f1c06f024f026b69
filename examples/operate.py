"""Operate a running runtime: what did the queries do, which tools are slow or failing, gate a tool.

Start the server with `make serve` (graph `customer-support`, its MCP server and profile service), chat
with it a few times (`examples/chat_openai.py`), then run:

    .venv/bin/python examples/operate.py [--base-url http://127.0.0.1:3002] [--admin-token TOKEN]

It walks through an operator's round, with the CRUD API (admin token) and the run API (API key):

1. lists the graph's recent queries (`GET …/query-logs`), newest first;
2. prints one query's step trace as a tree with timings (`GET …/query-logs/{id}/trace`);
3. prints the tools, slowest first, and the failing ones with their error types (`GET …/analytics/tools`,
   `…/analytics/errors`);
4. switches the `technical` agent's `run_diagnostics` tool to `require_approval`
   (`PUT …/agents/technical/tool-permissions`);
5. starts a streamed `/api/chat` in the background that makes the agent call that tool; when the stream
   asks for approval (`tool-approval-request`), finds the call among the pending approvals and approves it
   (`POST /tenants/{t}/projects/{p}/tool-approvals/{toolCallId or approvalId}` with the API key); the
   stream goes on, and the answer is printed with the trace of that run, which records the approval;
6. puts the tool's previous mode back (`--keep` leaves it at `require_approval`).

The API key comes from `--api-key` or `INKEEP_API_KEY`; without one the script creates a key for the graph.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from datetime import datetime
from typing import Any

import httpx

WAIT_S = 10.0
"""How long to wait for a query's record: the runtime writes query logs in the background, every ~0.5 s."""


class Operator:
    """The CRUD and run API of one project, as an operator uses them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        admin = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}
        self.crud = httpx.Client(
            base_url=f"{args.base_url}/tenants/{args.tenant}/crud/projects/{args.project}", headers=admin, timeout=30
        )
        self.run = httpx.Client(base_url=f"{args.base_url}/tenants/{args.tenant}/projects/{args.project}", timeout=60)

    def get(self, path: str, **params: Any) -> Any:
        response = self.crud.get(path, params={k: v for k, v in params.items() if v is not None})
        _check(response)
        return response.json()["data"]

    def api_key(self) -> str:
        """The run API key: from the flag or environment, else a new one for the graph."""
        key: str | None = self.args.api_key or os.environ.get("INKEEP_API_KEY")
        if key:
            return key
        response = self.crud.post("/api-keys", json={"graphId": self.args.graph, "name": "operate.py"})
        _check(response)
        print(f"(created an API key for graph '{self.args.graph}')")
        return str(response.json()["data"]["key"])


def _check(response: httpx.Response) -> None:
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        sys.exit(f"{response.request.method} {response.request.url} answered {response.status_code}: {detail}")


def _ms_between(start: str, end: str) -> int:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000)


def _short(text: str | None, limit: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- 1. recent queries ------------------------------------------------------------------------------------------


def list_queries(op: Operator) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = op.get("/query-logs", graphId=op.args.graph, limit=op.args.limit)
    print(f"\n== Recent queries of graph '{op.args.graph}' (newest first) ==")
    if not items:
        print("  none yet: chat with the graph first (examples/chat_openai.py)")
    for item in items:
        agents = item["entryAgentId"] + (
            f"→{item['finalAgentId']}" if item["finalAgentId"] != item["entryAgentId"] else ""
        )
        print(
            f"  {item['id']}  {item['startedAt'][11:23]}  {item['status']:<9} {item['durationMs']:>6} ms  "
            f"{agents:<18} llm {item['llmCalls']}  tools {item['toolCalls']} ({item['toolErrors']} failed)  "
            f"“{_short(item['input'], 48)}”"
        )
    return items


# --- 2. a step trace --------------------------------------------------------------------------------------------


_RELATION_KINDS = {"transfer": "transfer", "delegation": "delegate", "delegation_return": "return"}


def _step_label(step: dict[str, Any]) -> str:
    kind, agent = step["kind"], step["agentId"]
    if kind == "llm_generation":
        tokens = f"  {step['inputTokens']}→{step['outputTokens']} tokens" if step["inputTokens"] is not None else ""
        return f"model call    {agent} ({step['model']}){tokens}"
    if kind in _RELATION_KINDS:
        return f"{_RELATION_KINDS[kind]:<13} {agent} → {step['targetAgentId']}"
    if kind == "context_fetch":
        return f"context fetch {step['name']} (for {agent})"
    if kind == "tool_call_group":
        return f"tool calls    {agent}"
    return f"{kind:<13} {agent}"


def _call_line(call: dict[str, Any]) -> str:
    outcome = "ok" if call["success"] else f"FAILED {call['errorType']}"
    gate = f", approval {call['approval']}" if call["approval"] else ""
    preview = call["errorMessage"] if not call["success"] else call["resultPreview"]
    return (
        f"{call['toolName']} on {call['toolId']}  {call['latencyMs']} ms  {outcome}"
        f"  [{call['permissionMode']}{gate}]  “{_short(preview, 50)}”"
    )


def print_trace(op: Operator, query_id: str) -> dict[str, Any]:
    trace: dict[str, Any] = op.get(f"/query-logs/{query_id}/trace")
    query, steps = trace["query"], trace["steps"]
    calls = {group["stepId"]: group["toolCalls"] for group in trace["toolCallGroups"]}
    print(f"\n== Trace of query {query['id']} ==")
    print(
        f"  {query['source']}, conversation {query['conversationId']}, {query['status']}"
        f"{' (' + str(query['errorType']) + ')' if query['errorType'] else ''}, {query['durationMs']} ms, "
        f"{query['inputTokens']}→{query['outputTokens']} tokens"
    )
    print(f"  user: “{_short(query['input'], 100)}”")
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        offset = _ms_between(query["startedAt"], step["startedAt"])
        status = "" if step["status"] == "success" else f"  {step['status'].upper()}"
        status += f": {_short(step['errorMessage'])}" if step["errorMessage"] else ""
        print(f"  {'└─' if last else '├─'} +{offset:>5} ms {step['durationMs']:>6} ms  {_step_label(step)}{status}")
        group = calls.get(step["id"], [])
        for number, call in enumerate(group):
            print(f"  {'   ' if last else '│  '}{'└─' if number == len(group) - 1 else '├─'} {_call_line(call)}")
    print(f"  answer: “{_short(query['output'], 100)}”")
    return trace


# --- 3. slow and failing tools ----------------------------------------------------------------------------------


def print_tools(op: Operator) -> None:
    window = op.args.window
    data = op.get("/analytics/tools", window=window, graphId=op.args.graph, sort="p95LatencyMs")
    print(f"\n== Tools in the last {window}, slowest first ==")
    if not data["tools"]:
        print("  no tool calls in this window")
    print(f"  {'tool':<24} {'server':<14} {'calls':>5} {'errors':>6} {'rate':>6} {'avg ms':>8} {'p95 ms':>7}")
    for row in data["tools"]:
        print(
            f"  {row['toolName']:<24} {row['toolId']:<14} {row['calls']:>5} {row['errors']:>6} "
            f"{row['errorRate']:>6.0%} {row['latencyMs']['avg']:>8.1f} {row['latencyMs']['p95']:>7}"
        )
    failing = [row for row in data["tools"] if row["errors"]]
    for row in sorted(failing, key=lambda r: r["errorRate"], reverse=True):
        errors = op.get("/analytics/errors", window=window, graphId=op.args.graph, toolName=row["toolName"])
        kinds = ", ".join(f"{t['errorType']} x{t['count']}" for t in errors["types"]) or "unknown"
        print(f"  failing: {row['toolName']}: {row['errors']} of {row['calls']} calls failed ({kinds})")


# --- 4. gate a tool ---------------------------------------------------------------------------------------------


def _permission(op: Operator) -> dict[str, Any] | None:
    listed: list[dict[str, Any]] = op.get(f"/agents/{op.args.agent}/tool-permissions")
    return next((p for p in listed if p["toolName"] == op.args.tool), None)


def require_approval(op: Operator) -> dict[str, Any]:
    """Switch the tool to `require_approval`; return its entry as it was before."""
    before = _permission(op)
    if before is None:  # the tool lists were never synced: reading them syncs them once
        for tool in op.get("/tools"):
            op.get(f"/tools/{tool['id']}/available-tools")
        before = _permission(op)
    if before is None:
        sys.exit(f"Agent '{op.args.agent}' has no tool named '{op.args.tool}'.")
    change = {"toolId": before["toolId"], "toolName": op.args.tool, "mode": "require_approval"}
    response = op.crud.put(f"/agents/{op.args.agent}/tool-permissions", json={"permissions": [change]})
    _check(response)
    print(f"\n== Agent '{op.args.agent}': {op.args.tool} is now require_approval (was {before['mode']}) ==")
    return before


def restore(op: Operator, before: dict[str, Any]) -> None:
    mode = before["mode"] if before["source"] == "explicit" else None
    change = {"toolId": before["toolId"], "toolName": op.args.tool, "mode": mode}
    _check(op.crud.put(f"/agents/{op.args.agent}/tool-permissions", json={"permissions": [change]}))
    print(f"\n(put {op.args.tool} back to {before['mode']}; pass --keep to leave it gated)")


# --- 5. a gated call, approved from the stream ------------------------------------------------------------------


def _stream_chat(op: Operator, key: str, parts: queue.Queue[Any]) -> None:
    """Background thread: stream one `/api/chat` turn, putting each part on `parts`, then None."""
    body = {
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": op.args.message}]}],
        "requestContext": {"userId": op.args.user},
    }
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with op.run.stream("POST", f"/graphs/{op.args.graph}/api/chat", json=body, headers=headers) as response:
            if response.is_error:
                response.read()
                parts.put(RuntimeError(f"/api/chat answered {response.status_code}: {response.text}"))
                return
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    parts.put(json.loads(line.removeprefix("data: ")))
    except httpx.HTTPError as exc:
        parts.put(exc)
    finally:
        parts.put(None)


def _approve(op: Operator, key: str, part: dict[str, Any]) -> None:
    descriptor = part["approvalDescriptor"]
    print(
        f"  approval requested: {descriptor['toolName']} for agent {descriptor['agentId']}, call {part['toolCallId']}"
    )
    pending = op.get("/tool-approvals", status="pending")
    mine = next((a for a in pending if a["approvalId"] == part["approvalId"]), None)
    if mine is not None:
        print(
            f"  pending approval {mine['approvalId']}: arguments {json.dumps(mine['arguments'])}, "
            f"stream waiting: {mine['runWaiting']}, expires {mine['expiresAt']}"
        )
    # The route takes the model's toolCallId or the approval id; the approval id is unique even when a model
    # numbers its calls per conversation (the offline model's `call_1`, ...).
    response = op.run.post(
        f"/tool-approvals/{part['approvalId']}",
        json={"decision": "approve"},
        headers={"Authorization": f"Bearer {key}"},
    )
    _check(response)
    print(f"  approved → {response.json()['data']['status']}")


def chat_with_approval(op: Operator, key: str) -> str | None:
    """Run the gated chat; return its query id (from the approval request), or None if the tool was not called."""
    print(f"\n== Chat as '{op.args.user}': “{op.args.message}” ==")
    parts: queue.Queue[Any] = queue.Queue()
    threading.Thread(target=_stream_chat, args=(op, key, parts), daemon=True).start()
    answer, query_id, deadline = "", None, time.monotonic() + op.args.timeout
    while True:
        try:
            part = parts.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            sys.exit(f"The stream did not finish within {op.args.timeout} s.")
        if part is None:
            break
        if isinstance(part, Exception):
            sys.exit(f"The chat failed: {part}")
        kind = part["type"]
        if kind == "data-operation" and part["data"]["type"] == "transfer":
            print(f"  {part['data']['label']}")
        elif kind == "tool-input-available":
            print(f"  the model calls {part['toolName']}({json.dumps(part['input'])})")
        elif kind == "tool-approval-request":
            query_id = part["approvalDescriptor"].get("queryId")
            _approve(op, key, part)
        elif kind == "tool-output-available":
            print(f"  tool result: “{_short(str(part['output']), 90)}”")
        elif kind == "text-delta":
            answer += part["delta"]
        elif kind == "error":
            print(f"  error: {part.get('errorText')}")
    print(f"  assistant: {answer.strip()}")
    if query_id is None:
        print(f"  (the model did not call {op.args.tool}, so nothing needed approval)")
    return query_id


def wait_for_query(op: Operator, query_id: str) -> None:
    """Poll until the run's record is written (bounded), then print its trace."""
    deadline = time.monotonic() + WAIT_S
    while op.crud.get(f"/query-logs/{query_id}").status_code == 404:
        if time.monotonic() > deadline:
            sys.exit(f"Query {query_id} was not recorded within {WAIT_S} s.")
        time.sleep(0.2)  # noqa: TID251 - a synchronous script
    print_trace(op, query_id)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:3002")
    parser.add_argument("--admin-token", default=os.environ.get("INKEEP_ADMIN_TOKEN"), help="for the CRUD API")
    parser.add_argument("--api-key", help="a run API key of the graph (default: $INKEEP_API_KEY, else a new one)")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--project", default="default")
    parser.add_argument("--graph", default="customer-support")
    parser.add_argument("--agent", default="technical", help="the agent whose tool gets gated")
    parser.add_argument("--tool", default="run_diagnostics", help="the MCP tool name to gate")
    parser.add_argument("--message", default="Please run diagnostics: the install crashes with a timeout")
    parser.add_argument("--user", default="ada", help="requestContext.userId of the chat")
    parser.add_argument("--query", help="the query whose trace to print (default: the newest with tool calls)")
    parser.add_argument("--limit", type=int, default=10, help="how many recent queries to list")
    parser.add_argument("--window", default="24h", help="analytics window, e.g. 1h, 24h, 7d")
    parser.add_argument("--timeout", type=float, default=120, help="seconds the chat may take")
    parser.add_argument("--keep", action="store_true", help="leave the tool at require_approval")
    args = parser.parse_args(argv)
    op = Operator(args)
    recent = list_queries(op)
    chosen = args.query or next((q["id"] for q in recent if q["toolCalls"]), recent[0]["id"] if recent else None)
    if chosen:
        print_trace(op, chosen)
    print_tools(op)
    key = op.api_key()
    before = require_approval(op)
    try:
        query_id = chat_with_approval(op, key)
    finally:
        if not args.keep:
            restore(op, before)
    if query_id:
        wait_for_query(op, query_id)


if __name__ == "__main__":
    main()
