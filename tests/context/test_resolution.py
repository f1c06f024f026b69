"""Context variables through the real executor: triggers, the database cache, failures and credentials.

The model is the fake LLM; what it received as the system prompt shows what the agent's instructions
rendered to. The profile service counts its fetches.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from inkeep_runtime import Settings, create_app
from inkeep_runtime.events import ContextFetched, RunCompleted, RunEvent, RunFailed
from inkeep_runtime.graph.executor import GraphExecutor
from inkeep_runtime.store.engine import Store
from tests.conftest import running_lifespan
from tests.context.conftest import SECRET
from tests.context.profiles import ProfileService
from tests.fakes.fake_llm import FakeLLM, RecordedRequest, Turn
from tests.graph.harness import TARGET, agent, graph_doc, push, request

pytestmark = pytest.mark.usefixtures("backend")

INSTRUCTIONS = "Serve {{userProfile.name}} (user {{requestContext.userId}})."


def user_variable(base_url: str, **fields: Any) -> dict[str, Any]:
    """The `userProfile` variable: `GET /users/{userId}`, fetched at initialization."""
    fetch = {"url": base_url + "/users/{{requestContext.userId}}", **fields.pop("fetch", {})}
    return {"trigger": "initialization", "fetchConfig": fetch, "defaultValue": {"name": "Guest"}, **fields}


async def push_graph(
    store: Store,
    tmp_path: Path,
    fake_llm: FakeLLM,
    variables: dict[str, Any],
    *,
    instructions: str = INSTRUCTIONS,
    **document: Any,
) -> None:
    fake_llm.responder = lambda _record: Turn.text("Certainly.")
    config = {
        "id": "ctx",
        "name": "Context",
        "requestContextSchema": {
            "type": "object",
            "properties": {"userId": {"type": "string"}},
            "required": ["userId"],
        },
        "contextVariables": variables,
    }
    doc = graph_doc(fake_llm.base_url, [agent("a", instructions=instructions)], contextConfig=config, **document)
    await push(store, tmp_path, doc)


async def turn(
    runner: GraphExecutor, conversation_id: str | None = None, user_id: str | None = "ada"
) -> tuple[str, list[RunEvent]]:
    context = {"userId": user_id} if user_id is not None else {}
    prepared = await runner.prepare(TARGET, request("Hello there", conversation_id, request_context=context))
    events = [event async for event in runner.stream(prepared)]
    return prepared.conversation_id, events


def system_of(record: RecordedRequest) -> str:
    return str(record.messages[0]["content"])


def fetched(events: list[RunEvent]) -> list[ContextFetched]:
    return [e for e in events if isinstance(e, ContextFetched)]


async def test_initialization_variable_is_fetched_once_per_conversation(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    first, events = await turn(runner)
    assert isinstance(events[-1], RunCompleted)
    assert [(e.name, e.trigger, e.cached, e.ok, e.error) for e in fetched(events)] == [
        ("userProfile", "initialization", False, True, None)
    ]
    _, again = await turn(runner, first)
    assert [(e.cached, e.ok) for e in fetched(again)] == [(True, True)]
    assert profiles.hits["user"] == 1
    await turn(runner)  # a new conversation fetches for itself
    assert profiles.hits["user"] == 2
    assert [system_of(r).splitlines()[0] for r in fake_llm.requests] == ["Serve Ada Lovelace (user ada)."] * 3


async def test_invocation_variable_is_fetched_on_every_turn(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    permissions = {"trigger": "invocation", "fetchConfig": {"url": profiles.base_url + "/users/x/permissions"}}
    await push_graph(store, tmp_path, fake_llm, {"perms": permissions}, instructions="Call {{perms.call}}.")
    conversation, events = await turn(runner)
    await turn(runner, conversation)
    _, last = await turn(runner, conversation)
    assert profiles.hits["permissions"] == 3
    assert [system_of(r).splitlines()[0] for r in fake_llm.requests] == ["Call 1.", "Call 2.", "Call 3."]
    assert [(e.trigger, e.cached) for e in fetched(events) + fetched(last)] == [("invocation", False)] * 2


async def test_a_changed_request_context_refetches_and_replaces_the_stored_one(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    conversation, _ = await turn(runner, user_id="ada")
    await turn(runner, conversation, user_id="grace")
    await turn(runner, conversation, user_id=None)  # no requestContext: the conversation's last one
    assert profiles.hits["user"] == 2
    assert [system_of(r).splitlines()[0] for r in fake_llm.requests] == [
        "Serve Ada Lovelace (user ada).",
        "Serve Grace Hopper (user grace).",
        "Serve Grace Hopper (user grace).",
    ]


async def test_an_edited_variable_definition_is_fetched_again(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    conversation, _ = await turn(runner)
    edited = user_variable(profiles.base_url, fetch={"headers": {"X-Version": "2"}})
    await push_graph(store, tmp_path, fake_llm, {"userProfile": edited})
    async with _fresh(store) as fresh:  # a new executor: the loader cache of the old one has the old graph
        await turn(fresh, conversation)
    assert profiles.hits["user"] == 2
    assert profiles.headers[-1]["x-version"] == "2"


async def test_a_failed_fetch_uses_the_default_value_and_is_retried_next_turn(
    store: Store,
    tmp_path: Path,
    fake_llm: FakeLLM,
    profiles: ProfileService,
    runner: GraphExecutor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    profiles.status = 503
    with caplog.at_level(logging.WARNING, logger="inkeep_runtime.context"):
        conversation, events = await turn(runner)
    assert isinstance(events[-1], RunCompleted)
    [event] = fetched(events)
    assert (event.ok, event.cached, event.error) == (
        False,
        False,
        "Context variable 'userProfile': the fetch answered HTTP 503.",
    )
    assert system_of(fake_llm.requests[0]).startswith("Serve Guest (user ada).")
    assert (
        "context config 'ctx': Context variable 'userProfile': the fetch answered HTTP 503. Using its defaultValue."
        in (caplog.text)
    )
    profiles.status = None
    _, again = await turn(runner, conversation)
    assert [(e.ok, e.cached) for e in fetched(again)] == [(True, False)]
    assert system_of(fake_llm.requests[1]).startswith("Serve Ada Lovelace")


async def test_an_unknown_user_404_uses_the_default_value(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    _, events = await turn(runner, user_id="nobody")
    assert fetched(events)[0].error == "Context variable 'userProfile': the fetch answered HTTP 404."
    assert system_of(fake_llm.requests[0]).startswith("Serve Guest (user nobody).")


async def test_a_slow_fetch_times_out_and_uses_the_default_value(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    variable = user_variable(profiles.base_url, fetch={"timeout": 100})
    await push_graph(store, tmp_path, fake_llm, {"userProfile": variable})
    profiles.delay_s = 0.5
    _, events = await turn(runner)
    [event] = fetched(events)
    assert event.error == "Context variable 'userProfile': the fetch did not answer within 0.1 s."
    assert event.duration_ms < 400
    assert system_of(fake_llm.requests[0]).startswith("Serve Guest")


async def test_the_runtime_default_timeout_applies_without_a_fetch_timeout(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    profiles.delay_s = 0.5
    async with _fresh(store, context_fetch_timeout_s=0.1) as runner:
        _, events = await turn(runner)
    assert fetched(events)[0].error == "Context variable 'userProfile': the fetch did not answer within 0.1 s."


async def test_a_response_that_violates_its_schema_uses_the_default_value(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    schema = {"type": "object", "properties": {"plan": {"enum": ["Free"]}}, "required": ["name", "email"]}
    await push_graph(
        store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url, responseSchema=schema)}
    )
    _, events = await turn(runner)
    assert fetched(events)[0].error == (
        "Context variable 'userProfile': the response does not match its responseSchema "
        '(/email: Field required.; /plan: Expected one of "Free".).'
    )
    assert system_of(fake_llm.requests[0]).startswith("Serve Guest")


async def test_a_failure_without_default_is_null_and_a_template_using_it_fails_clearly(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    variable = user_variable(profiles.base_url)
    del variable["defaultValue"]
    await push_graph(store, tmp_path, fake_llm, {"userProfile": variable})
    profiles.status = 500
    _, events = await turn(runner)
    failure = events[-1]
    assert isinstance(failure, RunFailed)
    assert failure.problem.code == "invalid_template"
    assert failure.problem.detail == (
        "The template of the instructions of agent 'a' uses an undefined variable: "
        "'None' has no attribute 'name' (available: requestContext, userProfile)."
    )
    assert fake_llm.requests == []


async def test_dependent_variables_wait_and_independent_ones_run_concurrently(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    variables = {
        "org": {"fetchConfig": {"url": profiles.base_url + "/orgs/{{userProfile.orgId}}"}},
        "userProfile": user_variable(profiles.base_url),
        "perms": {"trigger": "invocation", "fetchConfig": {"url": profiles.base_url + "/users/x/permissions"}},
    }
    await push_graph(store, tmp_path, fake_llm, variables, instructions="{{userProfile.name}} of {{org.name}}.")
    profiles.delay_s = 0.2
    _, events = await turn(runner)
    assert [e.name for e in fetched(events)] == ["userProfile", "perms", "org"]
    assert all(e.ok for e in fetched(events))
    assert profiles.raw_paths[-1] == "/orgs/analytical"
    assert system_of(fake_llm.requests[0]).startswith("Ada Lovelace of Org analytical.")
    assert profiles.most_in_flight == 2  # userProfile and perms at once; org only after userProfile


async def test_a_variable_that_depends_on_itself_falls_back(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    loop = {"fetchConfig": {"url": profiles.base_url + "/orgs/{{loop.id}}"}, "defaultValue": "none"}
    await push_graph(store, tmp_path, fake_llm, {"loop": loop}, instructions="Org {{loop}}.")
    _, events = await turn(runner)
    assert fetched(events)[0].error == "Context variable 'loop' depends on itself through other variables."
    assert profiles.hits["org"] == 0
    assert system_of(fake_llm.requests[0]).startswith("Org none.")


async def test_concurrent_turns_share_one_fetch(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    profiles.status = 503  # the first turn's fetch fails, so nothing is cached for the two that follow
    conversation, _ = await turn(runner)
    profiles.status, profiles.delay_s = None, 0.3
    first = await runner.prepare(TARGET, request("one", conversation, request_context={"userId": "ada"}))
    second = await runner.prepare(TARGET, request("two", conversation, request_context={"userId": "ada"}))
    results: list[list[RunEvent]] = []

    async def consume(prepared: Any) -> None:
        results.append([event async for event in runner.stream(prepared)])

    async with anyio.create_task_group() as group:
        group.start_soon(consume, first)
        group.start_soon(consume, second)
    assert profiles.hits["user"] == 2  # the failed one, then one shared by both turns
    assert sorted(fetched(events)[0].cached for events in results) == [False, True]


async def test_the_credential_reaches_the_service_but_no_response_event_or_log(
    store: Store,
    tmp_path: Path,
    fake_llm: FakeLLM,
    profiles: ProfileService,
    runner: GraphExecutor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credential = {"id": "profile-key", "type": "memory", "credentialStoreId": "memory-default"}
    credential["retrievalParams"] = {"key": "PROFILE_TOKEN"}  # type: ignore[assignment]
    variable = user_variable(
        profiles.base_url,
        credentialReferenceId="profile-key",
        fetch={"headers": {"Authorization": "Bearer {{requestContext.userId}}", "X-User": "{{requestContext.userId}}"}},
    )
    echo = {
        "trigger": "invocation",
        "fetchConfig": {
            "url": profiles.base_url + "/echo",
            "method": "POST",
            "body": {"who": "{{requestContext.userId}}"},
        },
        "credentialReferenceId": "profile-key",
    }
    await push_graph(
        store,
        tmp_path,
        fake_llm,
        {"userProfile": variable, "echo": echo},
        instructions="Serve {{userProfile.name}}; echo {{echo}}.",
        credentialReferences=[credential],
    )
    profiles.status = None
    with caplog.at_level(logging.DEBUG):
        _, events = await turn(runner)
        profiles.status = 500
        _, failing = await turn(runner)
    assert [h["authorization"] for h in profiles.headers] == [f"Bearer {SECRET}"] * 4  # the credential wins
    assert profiles.headers[0]["x-user"] == "ada"
    assert system_of(fake_llm.requests[0]).startswith('Serve Ada Lovelace; echo {"who": "ada"}.')
    everything = [caplog.text, repr(events), repr(failing), *(str(r.body) for r in fake_llm.requests)]
    assert all(SECRET not in text for text in everything)


async def test_a_missing_credential_fails_the_fetch_without_naming_a_secret(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    credential = {"id": "k", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "NOT_SET_HERE"}}
    variable = user_variable(profiles.base_url, credentialReferenceId="k")
    await push_graph(store, tmp_path, fake_llm, {"userProfile": variable}, credentialReferences=[credential])
    _, events = await turn(runner)
    assert fetched(events)[0].error == (
        "Context variable 'userProfile': Credential 'k' reads environment variable 'NOT_SET_HERE', which is not set."
    )
    assert profiles.hits["user"] == 0


async def test_values_in_the_url_stay_inside_their_path_segment(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService, runner: GraphExecutor
) -> None:
    await push_graph(store, tmp_path, fake_llm, {"userProfile": user_variable(profiles.base_url)})
    _, events = await turn(runner, user_id="../admin?x=1")
    assert profiles.raw_paths == ["/users/..%2Fadmin%3Fx%3D1"]
    assert fetched(events)[0].error == "Context variable 'userProfile': the fetch answered HTTP 404."


async def test_a_response_over_the_size_limit_fails(
    store: Store, tmp_path: Path, fake_llm: FakeLLM, profiles: ProfileService
) -> None:
    big = {"fetchConfig": {"url": profiles.base_url + "/big"}, "defaultValue": {}}
    await push_graph(store, tmp_path, fake_llm, {"big": big}, instructions="Hi.")
    async with _fresh(store, context_max_response_bytes=10_000) as runner:
        _, events = await turn(runner)
    assert fetched(events)[0].error == "Context variable 'big': the response is larger than 10000 bytes."


def _fresh(store: Store, **settings: Any) -> Any:
    from tests.context.conftest import executor_for

    return executor_for(store, **settings)


async def test_no_response_of_either_endpoint_carries_the_credential(
    store: Store,
    tmp_path: Path,
    fake_llm: FakeLLM,
    profiles: ProfileService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    credential = {"id": "k", "type": "env", "credentialStoreId": "env", "retrievalParams": {"key": "PROFILE_TOKEN"}}
    variable = user_variable(profiles.base_url, credentialReferenceId="k")
    await push_graph(store, tmp_path, fake_llm, {"userProfile": variable}, credentialReferences=[credential])
    fake_llm.responder = lambda record: Turn.text(f"My instructions: {record.messages[0]['content']}")
    app = create_app(Settings(dev=True, environment={"PROFILE_TOKEN": SECRET}), store=store)
    transport = httpx.ASGITransport(app=app)
    bodies = []
    with caplog.at_level(logging.DEBUG):
        async with running_lifespan(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            hello = [{"role": "user", "content": "hi"}]
            requests: list[tuple[str, dict[str, Any]]] = [
                ("/v1/chat/completions", {"model": "m", "stream": True, "messages": hello}),
                ("/v1/chat/completions", {"model": "m", "messages": hello}),
                ("/api/chat", {"messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]}),
            ]
            for path, body in requests:
                response = await http.post(
                    f"/tenants/t1/projects/p1/graphs/g{path}", json={**body, "requestContext": {"userId": "ada"}}
                )
                assert response.status_code == 200, response.text
                bodies.append(response.text)
            profiles.status = 500
            failing = await http.post(
                "/tenants/t1/projects/p1/graphs/g/v1/chat/completions",
                json={"model": "m", "requestContext": {"userId": "grace"}, "messages": hello},
            )
            bodies.append(failing.text)
    assert [h["authorization"] for h in profiles.headers] == [f"Bearer {SECRET}"] * 4
    assert "Lovelace" in bodies[0]  # the rendered instructions, echoed by the model
    assert all(SECRET not in text for text in [*bodies, caplog.text])
