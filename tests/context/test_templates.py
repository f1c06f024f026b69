"""The template sandbox: rendering, undefined names, refused escapes, and percent-encoded URLs."""

from __future__ import annotations

import pytest

from inkeep_runtime.context import ContextTemplateError, TemplateRenderer, has_template

VARIABLES = {
    "requestContext": {"userId": "ada", "tier": 2},
    "userProfile": {"name": "Ada Lovelace", "address": {"city": "London"}, "tags": ["a", "b"]},
}


@pytest.fixture
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def test_renders_request_context_and_nested_variables(renderer: TemplateRenderer) -> None:
    text = "Hello {{userProfile.name}} from {{ userProfile.address.city }} (user {{requestContext.userId}})."
    assert renderer.render(text, VARIABLES, where="t") == "Hello Ada Lovelace from London (user ada)."


def test_objects_and_numbers_render_as_json(renderer: TemplateRenderer) -> None:
    rendered = renderer.render(
        "{{userProfile.address}} {{userProfile.tags}} {{requestContext.tier}}", VARIABLES, where="t"
    )
    assert rendered == '{"city": "London"} ["a", "b"] 2'


def test_plain_text_is_returned_as_is_without_rendering(renderer: TemplateRenderer) -> None:
    text = "No templates here, just {braces} and 100% text."
    assert not has_template(text)
    assert renderer.render(text, {}, where="t") is text


def test_undefined_variable_is_an_error_naming_template_and_variable(renderer: TemplateRenderer) -> None:
    with pytest.raises(ContextTemplateError) as caught:
        renderer.render("Hi {{userProfil.name}}", VARIABLES, where="the instructions of agent 'router'")
    assert caught.value.detail == (
        "The template of the instructions of agent 'router' uses an undefined variable: "
        "'userProfil' is undefined (available: requestContext, userProfile)."
    )
    assert caught.value.status == 422


def test_undefined_attribute_is_an_error_too(renderer: TemplateRenderer) -> None:
    with pytest.raises(ContextTemplateError, match=r"has no attribute 'nickname'"):
        renderer.render("Hi {{userProfile.nickname}}", VARIABLES, where="t")


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        ("{{ ''.__class__.__mro__ }}", "refused by the sandbox"),
        ("{{ requestContext.__class__ }}", "refused by the sandbox"),
        ("{{ cycler.__init__.__globals__ }}", "refused by the sandbox: access to attribute '__init__'"),
        ("{{ joiner }}", "'joiner' is undefined"),
        ("{{ config }}", "'config' is undefined"),
        ("{{ self._TemplateReference__context }}", "refused by the sandbox"),
        ("{{ environ['HOME'] }}", "'environ' is undefined"),
        ("{{ env.PATH }}", "'env' is undefined"),
        ("{{ range(10) }}", "'range' is undefined"),
        ("{{ lipsum() }}", "'lipsum' is undefined"),
        ("{{ request }}", "'request' is undefined"),
        ("{% include '/etc/passwd' %}", "failed|not valid"),
        ("{{ userProfile.tags.append('x') }}", "refused by the sandbox"),
        ("{{ 'a' * 1000000 }}", "refused by the sandbox"),
        ("{{ 9 ** 999999 }}", "refused by the sandbox"),
        ("{{ '{0.__class__}'.format(requestContext) }}", "refused by the sandbox"),
    ],
)
def test_sandbox_escapes_are_refused(renderer: TemplateRenderer, template: str, refusal: str) -> None:
    with pytest.raises(ContextTemplateError, match=refusal):
        renderer.render(template, VARIABLES, where="t")


def test_environment_variables_are_not_reachable(renderer: TemplateRenderer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKEEP_TEST_SECRET", "do-not-leak")
    for template in ("{{ INKEEP_TEST_SECRET }}", "{{ os.environ }}", "{{ $env.INKEEP_TEST_SECRET }}"):
        with pytest.raises(ContextTemplateError) as caught:
            renderer.render(template, VARIABLES, where="t")
        assert "do-not-leak" not in caught.value.detail


def test_syntax_errors_name_the_template(renderer: TemplateRenderer) -> None:
    with pytest.raises(ContextTemplateError, match=r"^The template of fetchConfig.url is not valid jinja: .*line 1"):
        renderer.render("{{ unclosed", VARIABLES, where="fetchConfig.url")


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        ("ada", "https://api.test/users/ada/profile"),
        ("../admin?x=1", "https://api.test/users/..%2Fadmin%3Fx%3D1/profile"),
        ("a b/c#d&e=f", "https://api.test/users/a%20b%2Fc%23d%26e%3Df/profile"),
        ("..", "https://api.test/users/%2E%2E/profile"),
        (".", "https://api.test/users/%2E/profile"),
        ("ünï", "https://api.test/users/%C3%BCn%C3%AF/profile"),
    ],
)
def test_values_in_urls_are_percent_encoded(renderer: TemplateRenderer, user_id: str, expected: str) -> None:
    url = renderer.render_url(
        "https://api.test/users/{{requestContext.userId}}/profile", {"requestContext": {"userId": user_id}}, where="t"
    )
    assert url == expected


def test_url_query_values_are_encoded_but_the_template_is_not(renderer: TemplateRenderer) -> None:
    url = renderer.render_url("https://api.test/s?q={{q}}&lang=en", {"q": "a&b=c"}, where="t")
    assert url == "https://api.test/s?q=a%26b%3Dc&lang=en"


def test_json_bodies_render_every_string(renderer: TemplateRenderer) -> None:
    body = {"user": "{{requestContext.userId}}", "list": ["{{userProfile.name}}", 3], "n": None}
    assert renderer.render_json(body, VARIABLES, where="t") == {"user": "ada", "list": ["Ada Lovelace", 3], "n": None}


def test_names_lists_the_top_level_variables_a_template_uses(renderer: TemplateRenderer) -> None:
    assert renderer.names("{{a.b}}/{{ c }}{% if d %}x{% endif %}") == {"a", "c", "d"}
    assert renderer.names("plain") == set()
