"""The `statusUpdates` settings of a graph, with Inkeep's defaults (inkeep-behaviour.md §7.1).

Kept apart from `agent/status.py` so graph definitions can hold them without importing the summarizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from inkeep_runtime.llm.offline import OFFLINE_MODEL

__all__ = ["DEFAULT_COMPONENTS", "StatusComponent", "StatusUpdatesConfig", "status_config", "summarizer_model"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusComponent:
    """One kind of summary the model may write."""

    type: str
    description: str = ""
    details_schema: Mapping[str, Any] | None = None
    """JSON Schema of `details` (None: any object)."""


DEFAULT_COMPONENTS: Final = (
    StatusComponent(type="retrieve", description="Information was looked up or found (state what was found)."),
    StatusComponent(type="action", description="Something was done or is being done (state what)."),
)
"""Inkeep's default status components (`utils/default-status-schemas.ts`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdatesConfig:
    """A graph's `statusUpdates`, with defaults applied."""

    num_events: int = 1
    time_in_seconds: float = 2.0
    model: str | None = None
    prompt: str | None = None
    components: tuple[StatusComponent, ...] = DEFAULT_COMPONENTS


def summarizer_model(
    graph_settings: Mapping[str, Any], config: StatusUpdatesConfig, default_model: str | None
) -> tuple[str, dict[str, Any]]:
    """The summarizer's model and provider options: `statusUpdates.model`, else the graph's
    `modelSettings.summarizer` (a name, or `{model, providerOptions}`), else the graph's model."""
    options = dict(graph_settings.get("providerOptions") or {})
    summarizer = graph_settings.get("summarizer")
    if isinstance(summarizer, Mapping):
        options = {**options, **(summarizer.get("providerOptions") or {})}
        summarizer = summarizer.get("model")
    model = config.model or summarizer or graph_settings.get("model") or default_model or OFFLINE_MODEL
    return str(model), options


def status_config(raw: Mapping[str, Any] | None) -> StatusUpdatesConfig | None:
    """The status-update settings of a stored `statusUpdates` object (None: off)."""
    if not raw or raw.get("enabled") is False:
        return None
    components = tuple(
        StatusComponent(
            type=str(item.get("type") or item.get("id") or item.get("name")),
            description=str(item.get("description") or ""),
            details_schema=item.get("detailsSchema") or item.get("schema"),
        )
        for item in raw.get("statusComponents") or ()
        if isinstance(item, Mapping) and (item.get("type") or item.get("id") or item.get("name"))
    )
    return StatusUpdatesConfig(
        num_events=int(raw.get("numEvents") or 1),
        time_in_seconds=float(raw.get("timeInSeconds") or 2),
        model=raw.get("model") or None,
        prompt=raw.get("prompt") or None,
        components=components or DEFAULT_COMPONENTS,
    )
