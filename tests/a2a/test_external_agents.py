"""External agents in a graph run: delegation and transfer over A2A to a real a2a-sdk server.

The graph's model is the scripted fake LLM; the external agent is `tests/fakes/fake_a2a.py` (the a2a-sdk
1.3.0 server with its 0.3 compatibility on). The executor talks to it with our own A2A client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from inkeep_runtime.a2a.client import A2AClient
from inkeep_runtime.credentials import CredentialResolver
from inkeep_runtime.events import (
    AgentTransferred,
    DelegationReturned,
    DelegationStarted,
    RunCompleted,
    TextDelta,
)
from inkeep_runtime.graph.executor import GraphExecutor
from inkeep_runtime.llm.client import LiteLLMClient
from inkeep_runtime.llm.offline import OfflineModelClient
from inkeep_runtime.mcp import McpPool
from inkeep_runtime.settings import Settings
from inkeep_runtime.store.conversations import ConversationStore
from inkeep_runtime.store.engine import Store
from tests.fakes.fake_a2a import FakeA2A
from tests.fakes.fake_llm import FakeLLM, Turn
from tests.graph.harness import SCOPE, agent, graph_doc, push, run, stored, text_of

pytestmark = pytest.mark.usefixtures("backend")

SECRET = "partner-secret-7"


def document(fake_llm: FakeLLM, partner: FakeA2A, **router: Any) -> dict[str, Any]:
    """Router (delegating or transferring to `partner`) plus the external agent with a header and a credential."""
    external = {
        "id": "partner",
        "type": "external",
        "name": "Partner",
        "description": "A partner agent reached over A2A.",
        "baseUrl": partner.base_url,
        "headers": {"X-Team": "support"},
        "credentialReferenceId": "partner-key",
    }
    credential = {
        "id": "partner-key",
        "type": "memory",
        "credentialStoreId": "memory-default",
        "retrievalParams": {"key": "PARTNER", "header": "X-Api-Key"},
    }
    return graph_doc(fake_llm.base_url, [agent("router", **router), external], credentialReferences=[credential])


@asynccontextmanager
async def executor(store: Store, *, timeout_s: float = 10.0) -> AsyncIterator[GraphExecutor]:
    """The real executor with a credential resolver and a fast-retrying A2A client."""
    async with McpPool() as pool, httpx.AsyncClient() as http:
        yield GraphExecutor(
            store=store,
            llm=LiteLLMClient(timeout_s=30, retry_base_s=0.01),
            offline_llm=OfflineModelClient(chunk_delay_s=0),
            mcp=pool,
            settings=replace(Settings()),
            version_of=lambda _key: 0,
            credentials=CredentialResolver(values={"PARTNER": SECRET}),
            a2a=A2AClient(http=http, timeout_s=timeout_s, retry_base_s=0.01),
        )


@pytest.fixture
def backend() -> str:
    """Delegation over A2A does not depend on the database (the executor tests cover both)."""
    return "sqlite"


@pytest.fixture
async def partner(request: pytest.FixtureRequest) -> AsyncIterator[FakeA2A]:
    """The external agent, its card offering A2A 1.0 and 0.3 (our client picks 1.0), or 0.3 only (param "0.3")."""
    versions = ("0.3",) if getattr(request, "param", "1.0") == "0.3" else ("1.0", "0.3")
    async with FakeA2A(name="partner", versions=versions).running() as fake:
        yield fake


def delegate_then_answer(fake_llm: FakeLLM, task: str, final: str) -> None:
    fake_llm.add(Turn.tool_calls([("d1", "delegate_to_partner", {"message": task})]), Turn.text(final))


@pytest.mark.parametrize("partner", ["1.0", "0.3"], indirect=True)
async def test_delegation_returns_text_and_data_as_the_tool_result(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    await push(store, tmp_path, document(fake_llm, partner, canDelegateTo=["partner"]))
    delegate_then_answer(fake_llm, "Look up order 42.", "Order 42 ships tomorrow, says our partner.")
    async with executor(store) as runner:
        _, events = await run(runner, "where is order 42?")
    started = next(e for e in events if isinstance(e, DelegationStarted))
    returned = next(e for e in events if isinstance(e, DelegationReturned))
    assert (started.to_agent_id, started.is_external, started.message) == ("partner", True, "Look up order 42.")
    assert not returned.is_error
    text, data = returned.result.split("\n")
    assert text == "partner says: Look up order 42."
    assert json.loads(data) == {"agent": "partner", "count": 1}
    assert fake_llm.requests[1].messages[-1] == {"role": "tool", "tool_call_id": "d1", "content": returned.result}
    assert text_of(events) == "Order 42 ships tomorrow, says our partner."
    assert isinstance(events[-1], RunCompleted)
    assert "delegate_to_partner" in fake_llm.requests[0].tool_names


@pytest.mark.parametrize("partner", ["1.0", "0.3"], indirect=True)
async def test_headers_and_credential_reach_the_external_agent(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    await push(store, tmp_path, document(fake_llm, partner, canDelegateTo=["partner"]))
    delegate_then_answer(fake_llm, "Ping.", "Done.")
    async with executor(store) as runner:
        await run(runner, "ping the partner")
    (post,) = partner.posts()
    assert post["x-team"] == "support"
    assert post["x-api-key"] == SECRET
    assert post["x-inkeep-a2a-hops"] == "1"  # the first hop of this chain (loop guard between servers)
    expected_version = "1.0" if "1.0" in partner.versions else "0.3"
    assert post["a2a-version"] == expected_version
    card_paths = [path for method, path, _ in partner.requests if method == "GET"]
    assert card_paths == ["/.well-known/agent-card.json"]


async def test_repeated_delegations_continue_the_remote_context(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    await push(store, tmp_path, document(fake_llm, partner, canDelegateTo=["partner"]))
    delegate_then_answer(fake_llm, "First question.", "First answer.")
    delegate_then_answer(fake_llm, "Second question.", "Second answer.")
    delegate_then_answer(fake_llm, "Other conversation.", "Third answer.")
    async with executor(store) as runner:
        prepared, _ = await run(runner, "one")
        await run(runner, "two", prepared.conversation_id)
        await run(runner, "elsewhere")
    first, second, other = partner.received
    assert second.context_id == first.context_id
    assert other.context_id != first.context_id
    assert len([m for m, _, _ in partner.requests if m == "GET"]) == 1  # the card is cached


async def test_transfer_streams_the_external_answer_and_ends_the_turn(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    await push(store, tmp_path, document(fake_llm, partner, canTransferTo=["partner"]))
    fake_llm.add(Turn.tool_calls([("t1", "transfer_to_partner", {"reason": "partner knows orders"})]))
    fake_llm.add(Turn.text("Router again, happy to help."))
    async with executor(store) as runner:
        prepared, events = await run(runner, "track my parcel")
        transfer = next(e for e in events if isinstance(e, AgentTransferred))
        assert (transfer.from_agent_id, transfer.to_agent_id, transfer.reason) == (
            "router",
            "partner",
            "partner knows orders",
        )
        answer = [e for e in events if isinstance(e, TextDelta)]
        assert {e.agent_id for e in answer} == {"partner"}
        assert text_of(events).startswith("partner says: track my parcel\n")
        assert isinstance(events[-1], RunCompleted)
        assert len(fake_llm.requests) == 1
        messages = await stored(store, prepared.conversation_id)
        visible = [(m.role, m.agent_id, m.content.split("\n")[0]) for m in messages if m.visibility == "user"]
        assert visible == [("user", None, "track my parcel"), ("assistant", "partner", "partner says: track my parcel")]
        conversation = await ConversationStore(store).get(SCOPE, prepared.conversation_id)
        assert conversation is not None
        assert conversation.active_agent_id == "router"
        again, later = await run(runner, "thanks", prepared.conversation_id)
    assert again.agent_id == "router"
    assert text_of(later) == "Router again, happy to help."
    assert any("partner says: track my parcel" in str(m.get("content")) for m in fake_llm.requests[1].messages)


async def test_failed_transfer_hands_control_back_with_the_error(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    partner.required_header = ("X-Api-Key", "another-key")
    await push(store, tmp_path, document(fake_llm, partner, canTransferTo=["partner"]))
    fake_llm.add(
        Turn.tool_calls([("t1", "transfer_to_partner", {})]),
        Turn.text("The partner is unavailable, so I will answer myself."),
    )
    async with executor(store) as runner:
        prepared, events = await run(runner, "track my parcel")
    transfers = [(e.from_agent_id, e.to_agent_id) for e in events if isinstance(e, AgentTransferred)]
    assert transfers == [("router", "partner"), ("partner", "router")]
    assert text_of(events) == "The partner is unavailable, so I will answer myself."
    assert isinstance(events[-1], RunCompleted)
    note = fake_llm.requests[1].messages[-1]["content"]
    assert "<transfer_failed>" in note
    assert "HTTP 401" in note
    assert SECRET not in note
    results = [m for m in await stored(store, prepared.conversation_id) if m.message_type == "tool-result"]
    assert results[0].content.startswith("Error: External agent 'partner'")


async def test_transfer_attempts_count_towards_the_transfer_limit(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    partner.required_header = ("X-Api-Key", "another-key")
    document_ = document(fake_llm, partner, canTransferTo=["partner"])
    await push(store, tmp_path, {**document_, "stopWhen": {"transferCountIs": 2}})
    for index in range(3):
        fake_llm.add(Turn.tool_calls([(f"t{index}", "transfer_to_partner", {})]))
    async with executor(store) as runner:
        _, events = await run(runner, "keep trying")
    assert type(events[-1]).__name__ == "RunFailed"
    assert "transferCountIs=2" in events[-1].problem.detail  # type: ignore[union-attr]


async def test_503_is_retried_until_the_agent_answers(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    partner.fail_next = [503, 502]
    await push(store, tmp_path, document(fake_llm, partner, canDelegateTo=["partner"]))
    delegate_then_answer(fake_llm, "Are you there?", "It answered on the third try.")
    async with executor(store) as runner:
        _, events = await run(runner, "try the partner")
    returned = next(e for e in events if isinstance(e, DelegationReturned))
    assert not returned.is_error
    assert returned.result.startswith("partner says: Are you there?")
    assert len(partner.posts()) == 3
    assert len(partner.received) == 1


async def test_timeout_is_a_tool_error_the_model_sees(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    partner.delay_s = 1.0
    await push(store, tmp_path, document(fake_llm, partner, canDelegateTo=["partner"]))
    delegate_then_answer(fake_llm, "Take your time.", "The partner was too slow; here is my own answer.")
    async with executor(store, timeout_s=0.3) as runner:
        _, events = await run(runner, "slow question")
    returned = next(e for e in events if isinstance(e, DelegationReturned))
    assert returned.is_error
    assert returned.result == "Error: External agent 'partner' did not answer within 0.3 s."
    assert fake_llm.requests[1].messages[-1]["content"] == returned.result
    assert text_of(events) == "The partner was too slow; here is my own answer."
    assert isinstance(events[-1], RunCompleted)


async def test_401_is_a_tool_error_the_model_sees(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, partner: FakeA2A
) -> None:
    partner.required_header = ("X-Api-Key", "the-right-key")
    await push(store, tmp_path, document(fake_llm, partner, canDelegateTo=["partner"]))
    delegate_then_answer(fake_llm, "Hello?", "The partner refused; sorry.")
    async with executor(store) as runner:
        _, events = await run(runner, "ask the partner")
    returned = next(e for e in events if isinstance(e, DelegationReturned))
    assert returned.is_error
    assert "refused the request with HTTP 401; check its headers and credential reference" in returned.result
    assert SECRET not in returned.result
    assert len(partner.posts()) == 1  # a 401 is not retried
    assert isinstance(events[-1], RunCompleted)
