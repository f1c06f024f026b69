"""Data components: an agent that has them answers with structured output, streamed item by item.

The answer is one JSON object, `{"dataComponents": [{"id", "name", "props"}, ...]}`, where each item
is one of the agent's data components or the built-in `Text` (`props: {text}`) for prose. This is
the single-call design Inkeep moved to (inkeep-behaviour.md §6.1, [H]): tools and structured output in
the same model call, no separate "thinking" phase, so the first component is not held back.

How the object is obtained from any OpenAI-compatible model:

1. **A prompt contract** is appended to the system prompt: the envelope, each component with its
   description and props JSON Schema, and `Text`. Every model gets it.
2. **`response_format`** (`json_schema`, `strict: false`, one `anyOf` branch per component) is sent
   to providers known to honour it next to tools: `openai/`, `azure/`, `hosted_vllm/`, `lm_studio/`,
   bare OpenAI model names and the offline `mock/` model. Others (e.g. Anthropic, where litellm
   would force a JSON tool and so disable the real tools) rely on the contract alone. A graph or
   agent can decide itself: `providerOptions.response_format` is sent as given, `null` sends none.
3. **Tolerant scanning** (`json_items.py`): code fences, a bare list and extra keys are accepted, and an
   answer that is plain prose (its first visible character is not `{`, `[` or a fence) is taken as
   one `Text` item instead of being rejected.

Streaming: each item is validated and emitted the moment its object closes: a component as
`DataComponent`, a `Text` item as `TextDelta`s. `Text` prose streams while it is being typed as soon
as its `name` came before its `props` (a blank line separates it from earlier prose).

Validation: the item must name a component the agent has, and its `props` must satisfy that
component's JSON Schema (jsonschema, draft 2020-12; not Inkeep's lossy schema-to-zod conversion). A
missing `id` is generated, and an id already used in this turn gets a suffix (the AI SDK replaces a
data part that reuses an id). Invalid output (an invalid item, broken JSON, a list that never closes)
stops the call at once and is retried **once** with the error fed back to the model as a user
message; items the first attempt already showed are not shown again when the retry repeats them
unchanged. If the retry is invalid too, the turn raises `InvalidModelOutput` (502
`invalid_model_output`), which the executor reports as `RunFailed`: we chose a failed run over an
error operation because the agent's answer is incomplete, and a client must not take it for a
finished one (the stored answer is marked partial). A step that ends with tool calls is not an answer
and is never retried.

The stored answer (`TurnOutcome.text`, and so the history the model reads later and a delegating
agent's tool result) is the validated envelope as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import anyio
from jsonschema import Draft202012Validator

from inkeep_runtime.agent.json_items import Item, ItemScanner, Partial
from inkeep_runtime.errors import InvalidModelOutput, RunDeadlineExceeded
from inkeep_runtime.events import DataComponent, RunEvent, TextDelta
from inkeep_runtime.graph.definition import AgentDefinition, DataComponentDefinition
from inkeep_runtime.llm.client import LLMRequest, TextChunk, ToolCallChunk, UsageChunk
from inkeep_runtime.llm.messages import AssistantMessage, SystemMessage, UserMessage

if TYPE_CHECKING:
    from inkeep_runtime.agent.turn import TurnOutcome, TurnSetup

__all__ = ["TEXT_COMPONENT", "StructuredOutput", "honours_response_format"]

TEXT_COMPONENT: Final = DataComponentDefinition(
    id="text",
    name="Text",
    description="Plain text for the user (markdown allowed).",
    props={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)
"""The built-in component every agent with data components also has."""

_RESPONSE_FORMAT_PROVIDERS: Final = frozenset({"openai", "azure", "hosted_vllm", "lm_studio", "mock"})
_OPENAI_MODEL_PREFIXES: Final = ("gpt-", "chatgpt-", "o1", "o3", "o4")
_MAX_ERRORS: Final = 3
_MAX_MESSAGE_CHARS: Final = 300
_SEPARATOR: Final = "\n\n"


def honours_response_format(model: str) -> bool:
    """Whether `response_format` json_schema is sent to `model` by default (see the module docstring)."""
    provider, slash, name = model.partition("/")
    if slash:
        return provider.lower() in _RESPONSE_FORMAT_PROVIDERS
    return name.lower().startswith(_OPENAI_MODEL_PREFIXES) or provider.lower().startswith(_OPENAI_MODEL_PREFIXES)


@dataclass(slots=True)
class _Step:
    """What one model step (and its retry) has shown so far."""

    number: int
    visible: dict[int, str] = field(default_factory=dict)
    """`Text` shown per item index, across the attempt and its retry."""
    shown: dict[int, str] = field(default_factory=dict)
    """Components shown per item index, as canonical JSON."""
    items: list[dict[str, Any]] = field(default_factory=list)
    """The valid items of the current attempt."""
    raw: str = ""
    """The current attempt's text."""
    error: str | None = None


class StructuredOutput:
    """The data-component answer of one agent for one turn (one instance per turn: it keeps the turn's items)."""

    def __init__(self, agent_id: str, components: Sequence[DataComponentDefinition]) -> None:
        self.agent_id = agent_id
        self.components: dict[str, DataComponentDefinition] = {
            component.name: component for component in (TEXT_COMPONENT, *components)
        }
        self._validators = {name: Draft202012Validator(dict(c.props or {})) for name, c in self.components.items()}
        self._items: list[dict[str, Any]] = []
        """Valid items of earlier steps of this turn."""
        self._ids: dict[str, tuple[int, int]] = {}
        """Component ids shown in this turn, with the (step, index) that used each."""
        self._steps = 0

    @classmethod
    def for_agent(cls, agent: AgentDefinition) -> StructuredOutput | None:
        """The structured answer of `agent`, or None when it has no data components (it answers in text)."""
        return cls(agent.id, agent.data_components) if agent.data_components else None

    def contract(self) -> str:
        """The answer-format instructions added to the system prompt."""
        lines = [
            "## Answer format",
            "Answer with exactly one JSON object and nothing else (no prose around it, no code fence):",
            '{"dataComponents": [{"id": "<unique id>", "name": "<component name>", "props": {...}}, ...]}',
            "Each item is shown to the user in order. Put prose in Text items and use the other components "
            "where they fit; props must match the component's JSON Schema. Call tools first when you need "
            "them, then answer in this format.",
            "Components:",
        ]
        for component in self.components.values():
            schema = json.dumps(dict(component.props or {}), separators=(",", ":"))
            lines.append(f"- {component.name}: {component.description} Props schema: {schema}")
        return "\n".join(lines)

    def response_format(self) -> dict[str, Any]:
        """The OpenAI `response_format` describing the envelope."""
        branches = [
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string", "enum": [name]},
                    "props": dict(component.props or {"type": "object"}),
                },
                "required": ["id", "name", "props"],
            }
            for name, component in self.components.items()
        ]
        schema = {
            "type": "object",
            "properties": {"dataComponents": {"type": "array", "items": {"anyOf": branches}}},
            "required": ["dataComponents"],
        }
        return {"type": "json_schema", "json_schema": {"name": "data_components", "schema": schema, "strict": False}}

    def prepare(self, request: LLMRequest) -> LLMRequest:
        """`request` with the contract in its system prompt and, where it applies, `response_format`."""
        messages = list(request.messages)
        if messages and isinstance(messages[0], SystemMessage):
            messages[0] = SystemMessage(content=f"{messages[0].content}\n\n{self.contract()}")
        else:
            messages.insert(0, SystemMessage(content=self.contract()))
        options = dict(request.options)
        if "response_format" not in options and honours_response_format(request.model):
            options["response_format"] = self.response_format()
        elif "response_format" in options and options["response_format"] is None:
            del options["response_format"]
        return replace(request, messages=messages, options=options)

    async def model_step(
        self,
        setup: TurnSetup,
        request: LLMRequest,
        outcome: TurnOutcome,
        text_parts: list[str],
        calls: list[ToolCallChunk],
    ) -> AsyncIterator[RunEvent]:
        """One model call answering in the structured format (retried once when invalid).

        Raises:
            InvalidModelOutput: the answer was invalid twice.
            RunDeadlineExceeded: the run deadline passed.
        """
        self._steps += 1
        step = _Step(number=self._steps)
        prepared = self.prepare(request)
        async for event in self._attempt(setup, prepared, outcome, calls, step):
            yield event
        if step.error is not None and not calls:
            feedback = (
                f"Your previous answer could not be shown to the user: {step.error} Answer again with the "
                'complete, corrected JSON object {"dataComponents": [...]} (every item, in order), following '
                "the answer format."
            )
            retry = replace(
                prepared,
                messages=[*prepared.messages, AssistantMessage(content=step.raw), UserMessage(content=feedback)],
            )
            async for event in self._attempt(setup, retry, outcome, calls, step):
                yield event
            if step.error is not None and not calls:
                msg = (
                    f"Agent '{self.agent_id}' answered with invalid data components, also after one corrected "
                    f"retry: {step.error}"
                )
                raise InvalidModelOutput(msg, agentId=self.agent_id)
        text_parts.append(step.raw)
        self._items.extend(step.items)

    async def _attempt(
        self, setup: TurnSetup, request: LLMRequest, outcome: TurnOutcome, calls: list[ToolCallChunk], step: _Step
    ) -> AsyncIterator[RunEvent]:
        scanner = ItemScanner()
        step.items, step.raw, step.error = [], "", None
        async with aclosing(setup.llm.stream(request)) as chunks:
            while True:
                try:
                    with anyio.fail_at(setup.deadline):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    msg = "The run passed its deadline before finishing; partial output was kept."
                    raise RunDeadlineExceeded(msg) from exc
                if type(chunk) is TextChunk:
                    step.raw += chunk.text
                    for event in self._on_text(scanner, chunk.text, step, outcome):
                        yield event
                    if step.error is not None:
                        break  # stop paying for an answer that cannot be used; the retry starts at once
                elif type(chunk) is ToolCallChunk:
                    calls.append(chunk)
                elif type(chunk) is UsageChunk:
                    outcome.input_tokens += chunk.input_tokens
                    outcome.output_tokens += chunk.output_tokens
        if step.error is None:
            step.error = scanner.finish()
        if step.error is None and scanner.is_prose:
            step.items.append({"id": "text-1", "name": TEXT_COMPONENT.name, "props": {"text": scanner.prose_text}})
            self._record(outcome, step)

    def _on_text(self, scanner: ItemScanner, text: str, step: _Step, outcome: TurnOutcome) -> Iterator[RunEvent]:
        found = scanner.feed(text)
        if scanner.is_prose:
            yield from self._show_text(step, 0, scanner.prose_text)
            prose = {"id": "text-1", "name": TEXT_COMPONENT.name, "props": {"text": scanner.prose_text}}
            outcome.text = json.dumps({"dataComponents": [*self._items, prose]}, separators=(",", ":"))
            return
        for piece in found:  # everything found lies before a scanning error, if there is one
            if isinstance(piece, Partial):
                text_so_far = _streaming_text(piece.value)
                if text_so_far is not None:
                    yield from self._show_text(step, piece.index, text_so_far)
                continue
            item, error = self._validate(piece)
            if error is not None:
                step.error = error
                return
            assert item is not None
            yield from self._show_item(step, piece.index, item)
            step.items.append(item)
            self._record(outcome, step)
        step.error = scanner.error

    def _validate(self, piece: Item) -> tuple[dict[str, Any] | None, str | None]:
        number = piece.index + 1
        try:
            value = json.loads(piece.raw)
        except ValueError as exc:
            return None, f"Item {number} is not valid JSON ({exc})."
        name = value.get("name")
        component = self.components.get(name) if isinstance(name, str) else None
        if component is None:
            names = ", ".join(self.components)
            return None, f"Item {number} names component {_short(json.dumps(name))}, which is not one of: {names}."
        props = value.get("props")
        if not isinstance(props, dict):
            return None, f"Item {number} ({component.name}) has no props object."
        errors = sorted(self._validators[component.name].iter_errors(props), key=lambda e: list(map(str, e.path)))
        if errors:
            details = "; ".join(
                f"at '/{'/'.join(map(str, error.absolute_path))}': {_short(error.message)}"
                for error in errors[:_MAX_ERRORS]
            )
            return None, f"Item {number} ({component.name}) has invalid props: {details}."
        item_id = value.get("id") if isinstance(value.get("id"), str) else ""
        return {"id": item_id, "name": component.name, "props": props}, None

    def _show_item(self, step: _Step, index: int, item: dict[str, Any]) -> Iterator[RunEvent]:
        if item["name"] == TEXT_COMPONENT.name:
            item["id"] = item["id"] or f"text-{index + 1}"
            yield from self._show_text(step, index, item["props"]["text"])
            return
        item["id"] = self._unique_id(item["id"] or f"{item['name'].lower()}-{index + 1}", step.number, index)
        key = json.dumps(item, sort_keys=True)
        if step.shown.get(index) == key:
            return  # the retry repeated what the user already sees
        step.shown[index] = key
        yield DataComponent(agent_id=self.agent_id, id=item["id"], name=item["name"], props=item["props"])

    def _show_text(self, step: _Step, index: int, text: str) -> Iterator[RunEvent]:
        """Stream what the client has not seen of item `index`'s text."""
        visible = step.visible.get(index, "")
        if visible.startswith(text):
            return  # nothing new (or the retry is still catching up with what was shown)
        separate = not visible and any(shown for earlier, shown in step.visible.items() if earlier < index)
        if not text.startswith(visible):
            visible, separate = "", True  # the retry wrote different text: show it in full, set apart
        delta = text[len(visible) :]
        if separate:
            delta = _SEPARATOR + delta
        step.visible[index] = text
        yield TextDelta(agent_id=self.agent_id, text=delta)

    def _unique_id(self, wanted: str, step_number: int, index: int) -> str:
        candidate, suffix = wanted, 2
        while self._ids.get(candidate, (step_number, index)) != (step_number, index):
            candidate, suffix = f"{wanted}-{suffix}", suffix + 1
        self._ids[candidate] = (step_number, index)
        return candidate

    def _record(self, outcome: TurnOutcome, step: _Step) -> None:
        """Keep the answer so far (valid even if the turn is cancelled now)."""
        outcome.text = json.dumps({"dataComponents": [*self._items, *step.items]}, separators=(",", ":"))


def _streaming_text(value: Any) -> str | None:
    """The prose of a `Text` item still being written, once its name is known for sure."""
    if not isinstance(value, Mapping) or value.get("name") != TEXT_COMPONENT.name:
        return None
    keys = list(value)
    if "props" not in keys or keys.index("name") > keys.index("props"):
        return None  # the name was still being typed when props began: wait for the whole item
    props = value["props"]
    text = props.get("text") if isinstance(props, Mapping) else None
    return text if isinstance(text, str) else None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"
