"""Typed shapes of the JSON settings that agents and graphs carry (model, stop conditions, history)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from inkeep_runtime.manage.schemas import ApiModel

__all__ = ["ConversationHistoryConfig", "ModelSettings", "StatusUpdates", "StopWhen"]


class ModelSettings(ApiModel):
    """Which model an agent or graph uses and how litellm is called.

    `providerOptions` are passed to litellm as keyword arguments (`api_base`, `temperature`, ...).
    """

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1, description="litellm model name, e.g. openai/gpt-4o-mini.")
    provider_options: dict[str, Any] | None = None
    structured_output: str | dict[str, Any] | None = None
    summarizer: str | dict[str, Any] | None = None


class StopWhen(ApiModel):
    """Run guards."""

    model_config = ConfigDict(extra="forbid")

    transfer_count_is: int | None = Field(default=None, ge=1, le=1000)
    step_count_is: int | None = Field(default=None, ge=1, le=1000)


class ConversationHistoryConfig(ApiModel):
    """What part of the conversation the model sees."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["full", "scoped", "none"] = "full"
    limit: int | None = Field(default=None, ge=0, le=10_000, description="Most recent messages kept.")
    max_output_tokens: int | None = Field(default=None, ge=1)
    include_internal: bool | None = None
    message_types: list[str] | None = None


class StatusComponent(ApiModel):
    """One kind of progress summary."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    type: str | None = None
    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    details_schema: dict[str, Any] | None = None


class StatusUpdates(ApiModel):
    """Progress summaries during long turns."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    num_events: int | None = Field(default=None, ge=1)
    time_in_seconds: int | None = Field(default=None, ge=1)
    model: str | None = None
    prompt: str | None = None
    status_components: list[StatusComponent] | None = None
