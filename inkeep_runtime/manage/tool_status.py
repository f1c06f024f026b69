"""`GET …/tools/status-summary` (caylex.md §4.5 #14): probe status joined with health from real traffic.

Each MCP tool server of the project is shown with what the last probe said (`status`, `lastHealthCheck`,
`lastError`, as stored by `tool_health.py`) and what the query log saw in the last `window` (default
`1h`): `recentCalls`, `recentErrorRate` (failed calls / calls, a fraction; null without calls) and
`latencyMs.p95` (nearest-rank, null without calls). The counts (`healthy`, `unhealthy`, `needsAuth`,
`disabled`, `unknown`) are over the probe status; traffic never changes a status here (a tool can be
probed healthy and still fail real calls: that is what the traffic columns show).

The route is registered before `GET …/tools/{id}`, so a tool with the id `status-summary` cannot be read
by id (the same holds for `health-check-all` on POST).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.manage.crud import PROJECT_PREFIX, project_scope, require_project
from inkeep_runtime.manage.schemas import ApiModel, DataEnvelope
from inkeep_runtime.observe.analytics_params import DURATION_PATTERN, duration_ms, iso_ms
from inkeep_runtime.observe.record_values import epoch_ms
from inkeep_runtime.store.query_logs import ToolTraffic, tool_traffic
from inkeep_runtime.store.rows import Rows

__all__ = ["StatusSummary", "StatusSummaryQuery", "ToolStatusRow", "endpoints"]


class StatusSummaryQuery(ApiModel):
    """Parameters of the status summary."""

    model_config = ConfigDict(extra="ignore")

    window: str = Field(
        default="1h", pattern=DURATION_PATTERN, description="How far back traffic counts: 15m, 1h, 24h, 7d, 1mo."
    )

    @field_validator("window")
    @classmethod
    def _is_positive(cls, value: str) -> str:
        duration_ms(value)  # raises ValueError for a zero duration
        return value


class LatencyP95(ApiModel):
    """Latency percentiles of recent calls, in milliseconds."""

    p95: int | None = None


class ToolStatusRow(ApiModel):
    """One tool server: probe status and recent traffic."""

    tool_id: str
    name: str
    status: str
    last_health_check: str | None = None
    last_error: str | None = None
    recent_calls: int
    recent_errors: int
    recent_error_rate: float | None = None
    latency_ms: LatencyP95


class StatusSummary(ApiModel):
    """`data` of the status summary."""

    window: str
    from_: str = Field(alias="from")
    to: str
    total: int
    healthy: int
    unhealthy: int
    needs_auth: int
    disabled: int
    unknown: int
    last_checked_at: str | None = None
    tools: list[ToolStatusRow]


def _row(tool: dict[str, Any], traffic: ToolTraffic | None) -> ToolStatusRow:
    calls = traffic.calls if traffic is not None else 0
    errors = traffic.errors if traffic is not None else 0
    return ToolStatusRow(
        tool_id=tool["id"],
        name=tool["name"],
        status=tool["status"],
        last_health_check=tool["last_health_check"],
        last_error=tool["last_error"],
        recent_calls=calls,
        recent_errors=errors,
        recent_error_rate=errors / calls if calls else None,
        latency_ms=LatencyP95(p95=traffic.p95_latency_ms if traffic is not None else None),
    )


async def status_summary(call: Call) -> Any:
    """Every tool server of the project with its probe status and recent traffic."""
    query: StatusSummaryQuery = call.query
    scope = project_scope(call)
    store = call.services.store
    async with store.read() as session:
        rows = Rows(session)
        await require_project(rows, scope)
        tools = await rows.find("tools", scope)
    now = epoch_ms()
    since = now - duration_ms(query.window)
    traffic = await tool_traffic(store, scope, since)
    shown = sorted(tools, key=lambda tool: (tool["name"], tool["id"]))
    statuses = Counter(tool["status"] for tool in tools)
    checks = [tool["last_health_check"] for tool in tools if tool["last_health_check"]]
    summary = StatusSummary(
        window=query.window,
        from_=iso_ms(since),
        to=iso_ms(now),
        total=len(tools),
        healthy=statuses["healthy"],
        unhealthy=statuses["unhealthy"],
        needs_auth=statuses["needs_auth"],
        disabled=statuses["disabled"],
        unknown=statuses["unknown"],
        last_checked_at=max(checks) if checks else None,
        tools=[_row(tool, traffic.get(tool["id"])) for tool in shown],
    )
    return {"data": summary.model_dump(mode="json")}


def endpoints() -> list[Endpoint]:
    """The status roll-up route (registered before `GET …/tools/{id}`)."""
    return [
        Endpoint(
            method="GET",
            path=f"{PROJECT_PREFIX}/tools/status-summary",
            summary="Tool Status Summary",
            description=(
                "Every MCP tool server of the project: its last probe (status, lastHealthCheck, lastError) and, "
                "from the query log, recentCalls, recentErrorRate (0..1) and latencyMs.p95 over `window`."
            ),
            handler=status_summary,
            tag="Tools",
            query=StatusSummaryQuery,
            response=DataEnvelope[StatusSummary],
        )
    ]
