"""The incremental `dataComponents` scanner, fed in every chunk size."""

from __future__ import annotations

import itertools
import json

import pytest

from inkeep_runtime.agent.components import honours_response_format
from inkeep_runtime.agent.json_items import Item, ItemScanner, Partial, close_partial

TRICKY = (
    '```json\n{"note": "a [list] {brace}", "dataComponents": [{"id": "t1", "name": "Text", "props": '
    '{"text": "Say \\"hi\\" \\u00e9 \\\\ ok"}}, {"id": "c1", "name": "Card", "props": {"a": [1, {"b": "]}"}]}}]'
    ', "after": {"x": [1]}}\n```'
)


def _scan(text: str, size: int) -> tuple[ItemScanner, list[Item | Partial]]:
    scanner = ItemScanner()
    found: list[Item | Partial] = []
    for start in range(0, len(text), size):
        found.extend(scanner.feed(text[start : start + size]))
    scanner.finish()
    return scanner, found


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 1000])
def test_items_are_found_whatever_the_chunking(size: int) -> None:
    scanner, found = _scan(TRICKY, size)
    items = [piece for piece in found if isinstance(piece, Item)]
    assert scanner.error is None
    assert [(item.index, json.loads(item.raw)["id"]) for item in items] == [(0, "t1"), (1, "c1")]
    assert json.loads(items[0].raw)["props"]["text"] == 'Say "hi" é \\ ok'
    assert json.loads(items[1].raw)["props"] == {"a": [1, {"b": "]}"}]}


def test_partials_grow_the_text_of_the_item_being_written() -> None:
    _, found = _scan(TRICKY, 2)
    texts = [
        piece.value["props"]["text"]
        for piece in found
        if isinstance(piece, Partial)
        and isinstance(piece.value, dict)
        and isinstance(piece.value.get("props"), dict)
        and "text" in piece.value["props"]
    ]
    assert len(texts) > 5
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1] == 'Say "hi" é \\ ok'


def test_a_bare_list_is_accepted() -> None:
    scanner, found = _scan('[{"id": "a", "name": "Text", "props": {"text": "x"}}]', 4)
    assert scanner.error is None
    assert [piece.index for piece in found if isinstance(piece, Item)] == [0]


def test_prose_is_recognised_and_kept_whole() -> None:
    scanner, found = _scan("  Plain words, no JSON {at all}.", 3)
    assert scanner.is_prose
    assert found == []
    assert scanner.prose_text == "Plain words, no JSON {at all}."


def test_inline_code_is_prose_but_a_fence_is_not() -> None:
    prose = ItemScanner()
    prose.feed("`x` is a variable")
    assert prose.is_prose
    fenced = ItemScanner()
    fenced.feed("``")
    assert not fenced.has_content
    fenced.feed("`\n{")
    assert (fenced.has_content, fenced.is_prose) == (True, False)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"dataComponents": [1]}', 'Item 1 of "dataComponents" is not a JSON object.'),
        ('{"dataComponents": [{"id": "a"}, "x"]}', 'Item 2 of "dataComponents" is not a JSON object.'),
        ('{"dataComponents": [[]]}', 'Item 1 of "dataComponents" is not a JSON object.'),
        ('{"other": [{"id": "a"}]}', 'The JSON answer has no "dataComponents" list.'),
        ('{"dataComponents": [{"id": "a"}', 'The JSON answer ended before its "dataComponents" list was closed.'),
    ],
)
def test_unusable_answers_have_an_error(text: str, error: str) -> None:
    scanner, _ = _scan(text, 3)
    assert scanner.error == error


def test_an_empty_answer_is_not_an_error() -> None:
    scanner, found = _scan("   ", 1)
    assert (scanner.error, scanner.has_content, found) == (None, False, [])


@pytest.mark.parametrize(
    ("prefix", "stack", "in_string", "expected"),
    [
        ('{"text": "ab\\', ["{"], True, {"text": "ab"}),
        ('{"text": "ab\\u00', ["{"], True, {"text": "ab"}),
        ('{"a": [1, 2,', ["{", "["], False, {"a": [1, 2]}),
        ('{"a": ', ["{"], False, None),
    ],
)
def test_close_partial(prefix: str, stack: list[str], in_string: bool, expected: object) -> None:
    assert close_partial(prefix, stack, in_string=in_string) == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/gpt-4o-mini", True),
        ("azure/my-deployment", True),
        ("hosted_vllm/llama", True),
        ("mock/inkeep-demo", True),
        ("gpt-4o", True),
        ("o3-mini", True),
        ("anthropic/claude-sonnet-4-5", False),
        ("gemini/gemini-2.0-flash", False),
        ("claude-3-5-sonnet", False),
    ],
)
def test_which_models_get_response_format(model: str, expected: bool) -> None:
    assert honours_response_format(model) is expected
