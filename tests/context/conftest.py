"""Fixtures of the context tests: the fake profile service and an executor that can fetch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from inkeep_runtime.credentials import CredentialResolver
from inkeep_runtime.graph.executor import GraphExecutor
from inkeep_runtime.llm.client import LiteLLMClient
from inkeep_runtime.llm.offline import OfflineModelClient
from inkeep_runtime.mcp import McpPool
from inkeep_runtime.settings import Settings
from inkeep_runtime.store.engine import Store
from tests.context.profiles import ProfileService, profile_service

SECRET = "sk-profile-3f9a1c77e2"
"""The credential the profile service is called with; it must never show up anywhere else."""


@pytest.fixture
async def profiles() -> AsyncIterator[ProfileService]:
    """The fake profile service, running."""
    async with profile_service() as service:
        yield service


@pytest.fixture
async def runner(store: Store) -> AsyncIterator[GraphExecutor]:
    """The real executor with a shared HTTP client and a credential store holding `SECRET`."""
    async with executor_for(store) as runner:
        yield runner


@asynccontextmanager
async def executor_for(store: Store, **settings: Any) -> AsyncIterator[GraphExecutor]:
    """The executor of these tests (settings overridable, e.g. `context_fetch_timeout_s`)."""
    config = replace(Settings(), **settings)
    # The MCP pool stays unopened: these graphs have no MCP tools, and an opened pool's task group
    # could not span a fixture's set-up and tear-down (they run in different tasks).
    pool = McpPool()
    async with httpx.AsyncClient() as http:
        yield GraphExecutor(
            store=store,
            llm=LiteLLMClient(timeout_s=config.llm_timeout_s, retry_base_s=0.01),
            offline_llm=OfflineModelClient(chunk_delay_s=0),
            mcp=pool,
            settings=config,
            version_of=lambda _key: 0,
            credentials=CredentialResolver(values={"PROFILE_TOKEN": SECRET}, http=http),
            http=http,
        )
