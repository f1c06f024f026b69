"""Stored context configs become runnable definitions; configs that cannot run say why."""

from __future__ import annotations

from typing import Any

import pytest

from inkeep_runtime.context import ContextFetcher, ContextFetchError, TemplateRenderer, parse_context_config
from inkeep_runtime.errors import GraphDefinitionError


def row(variables: dict[str, Any]) -> dict[str, Any]:
    return {"id": "ctx", "request_context_schema": {}, "context_variables": variables}


def test_a_stored_variable_becomes_a_definition_with_defaults() -> None:
    config = parse_context_config(
        row({"userProfile": {"fetchConfig": {"url": "http://x/{{requestContext.id}}", "timeout": 2500}}})
    )
    variable = config.variables["userProfile"]
    assert config.request_context_schema is None  # an empty schema accepts anything
    assert (variable.trigger, variable.fetch.method, variable.fetch.timeout_s) == ("initialization", "GET", 2.5)
    assert (variable.has_default, variable.credential_reference_id) == (False, None)


def test_the_definition_hash_follows_the_definition() -> None:
    first = parse_context_config(row({"v": {"fetchConfig": {"url": "http://x/a"}}})).variables["v"]
    same = parse_context_config(row({"v": {"fetchConfig": {"url": "http://x/a"}}})).variables["v"]
    edited = parse_context_config(row({"v": {"fetchConfig": {"url": "http://x/b"}}})).variables["v"]
    assert first.definition_hash == same.definition_hash != edited.definition_hash


@pytest.mark.parametrize(
    ("variables", "pointer", "message"),
    [
        ({"user-profile": {"fetchConfig": {"url": "http://x"}}}, "/contextVariables/user-profile", "identifiers"),
        ({"requestContext": {"fetchConfig": {"url": "http://x"}}}, "/contextVariables/requestContext", "other than"),
        ({"v": {"fetchConfig": {}}}, "/contextVariables/v/fetchConfig/url", "has no fetchConfig.url"),
        (
            {"v": {"fetchConfig": {"url": "http://x", "method": "TRACE"}}},
            "/contextVariables/v/fetchConfig/method",
            "TRACE",
        ),
    ],
)
def test_variables_that_cannot_run_are_definition_errors(variables: dict[str, Any], pointer: str, message: str) -> None:
    with pytest.raises(GraphDefinitionError, match=message) as caught:
        parse_context_config(row(variables))
    assert caught.value.extensions["pointer"] == pointer


async def test_a_jmespath_transform_is_refused_before_any_request() -> None:
    variable = parse_context_config(
        row({"v": {"fetchConfig": {"url": "http://192.0.2.1/x", "transform": "data.user"}}})
    ).variables["v"]
    with pytest.raises(ContextFetchError, match=r"fetchConfig.transform \(JMESPath\) is not supported"):
        await ContextFetcher(renderer=TemplateRenderer()).fetch(variable, {"requestContext": {}})


async def test_an_undefined_variable_in_a_fetch_template_fails_the_fetch() -> None:
    variable = parse_context_config(row({"v": {"fetchConfig": {"url": "http://x/{{requestContext.nope}}"}}})).variables[
        "v"
    ]
    with pytest.raises(ContextFetchError, match=r"fetchConfig.url of context variable 'v' uses an undefined variable"):
        await ContextFetcher(renderer=TemplateRenderer()).fetch(variable, {"requestContext": {}})


async def test_a_header_that_renders_a_line_break_is_refused() -> None:
    variable = parse_context_config(
        row({"v": {"fetchConfig": {"url": "http://x/", "headers": {"X-User": "{{requestContext.id}}"}}}})
    ).variables["v"]
    with pytest.raises(ContextFetchError, match="line break"):
        await ContextFetcher(renderer=TemplateRenderer()).fetch(variable, {"requestContext": {"id": "a\r\nX-Evil: 1"}})
