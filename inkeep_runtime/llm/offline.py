"""The offline demo model: a deterministic `LLMClient` for machines without a provider key.

When no provider key is configured and a graph names no model, the runtime answers with this client,
so the example graphs can be watched end to end (router → transfer → specialist → MCP tool → answer).
Its model names are `mock/<anything>` (`OFFLINE_MODEL` by default). It never touches the network, and
every answer text starts with `MARKER`, so nobody mistakes it for a real model.

Each call looks at the conversation of the current turn (everything after the user's last message)
and at the tools offered, and takes the first rule that applies:

1. The last message is a tool result (other than a transfer hand-off): summarise this turn's tool
   results in text and stop.
2. Transfer tools are offered and nothing was transferred in this turn: transfer (after greeting the
   customer by name when the instructions name them, `offline_greeting.py`) to the target whose
   id or description matches the user's words (billing and technical keywords, then plain word
   overlap). No match, no transfer. At most one transfer per turn, so an agent never hands the user
   back to the agent that just handed them over (no ping-pong).
3. MCP tools are offered and none of them was called in this turn: call the best-matching one (every
   tool that clearly matches, up to three, else the first), with arguments built from its JSON schema.
4. Delegation tools are offered and nothing was delegated in this turn: delegate the user's text to the
   best-matching (else the first) target.
5. Otherwise: stream a short scripted answer naming the agent (when the system prompt does) and the
   question.

A transfer shows up in the messages as the previous agent's `transfer_to_*` call (and its result), as a
`<transfer_context>` note, or as a note the executor adds after the user's message; all three count.
Every call ends with one `FinishChunk` and one `UsageChunk` counting words as tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

import anyio

from inkeep_runtime.errors import LLMError
from inkeep_runtime.llm.client import FinishChunk, LLMChunk, LLMRequest, TextChunk, ToolCallChunk, UsageChunk
from inkeep_runtime.llm.messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from inkeep_runtime.llm.offline_components import structured_pieces
from inkeep_runtime.llm.offline_greeting import greeting

__all__ = ["MARKER", "OFFLINE_MODEL", "OfflineModelClient", "is_offline_model"]

OFFLINE_MODEL = "mock/inkeep-demo"
"""The offline model used when no provider key is configured and a graph names no model."""
MARKER = "[offline demo model]"
"""Starts every answer text of the offline model."""

_PREFIX = "mock/"
_TRANSFER = "transfer_to_"
_DELEGATE = "delegate_to_"
_WORDS_PER_CHUNK = 3
_MAX_PARALLEL_CALLS = 3
_ARGUMENT_CHARS = 200
_TOPICS: dict[str, tuple[str, ...]] = {
    "billing": ("bill", "invoice", "refund", "charge", "payment", "subscription", "pricing"),
    "technical": ("error", "crash", "bug", "install", "technical", "outage", "broken", "exception", "setup"),
}
"""Word stems that route a user's request to a topic, and a target to that topic (by prefix)."""
# fmt: off
_STOPWORDS = frozenset({
    "the", "and", "for", "you", "are", "can", "not", "but", "how", "why", "was", "has", "had", "its", "our",
    "out", "get", "got", "any", "all", "one", "new", "now", "use", "may", "did", "does", "with", "that", "this",
    "from", "your", "have", "what", "when", "where", "which", "who", "will", "would", "could", "should",
    "please", "help", "need", "want", "just", "like", "some", "more", "other", "only", "also", "been", "were",
    "here", "there", "their", "them", "then", "they", "into", "about", "agent", "another", "task", "hand",
    "handoff", "conversation", "transfer", "delegate", "specific", "user", "tool", "call", "answer", "question",
})  # compared after `_words` drops a plural "s"
# fmt: on
_RELATION_LINE = re.compile(r"(?im)^.*\bcan (?:transfer|delegate) to\b.*$")
_TRANSFER_TAG = "<transfer_context>"
_PROMPT_TRANSFER_NOTE = re.compile(
    r"<transfer_context>|\b(?:were|was|been|being) transferred\b|\btransferred\b[^.\n]{0,40}\b(?:from|to you)\b",
    re.IGNORECASE,
)
_AGENT_NAME = (
    re.compile(r"<agent_name>\s*([^<\n]{1,60}?)\s*</agent_name>"),
    re.compile(r"(?im)^[ \t#*]*(?:agent name|agent|name)[ \t*]*:[ \t]*(\S[^\n]{0,59}?)[ \t.]*$"),
    re.compile(r"\b[Yy]ou are (?:the |an? )?((?:[A-Z][\w-]*)(?: [A-Z][\w-]*){0,4})"),
)


def is_offline_model(name: str) -> bool:
    """Tell whether `name` is served by the offline demo model (`mock/<anything>`)."""
    return name.strip().lower().startswith(_PREFIX) and len(name.strip()) > len(_PREFIX)


class OfflineModelClient:
    """`LLMClient` that answers by the deterministic rules in the module docstring; no network.

    Args:
        chunk_delay_s: Pause before each streamed text chunk, so the demo streams like a real model
            (0 in tests).
    """

    def __init__(self, *, chunk_delay_s: float = 0.02) -> None:
        self.chunk_delay_s = chunk_delay_s

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        """Answer `request` by the rules; honours cancellation at every chunk.

        Raises:
            LLMError: The request names a model that is not an offline one.
        """
        if not is_offline_model(request.model):
            msg = f"Model '{request.model}' is not an offline model; expected a name starting with '{_PREFIX}'."
            raise LLMError(msg)
        turn = _Turn.read(request.messages)
        calls = _plan_calls(turn, request.tools)
        output_words = 0
        if calls:
            await anyio.sleep(self.chunk_delay_s)  # a checkpoint, and a model's thinking time
            hello = greeting(turn.system_text, MARKER) if any(c.name.startswith(_TRANSFER) for c in calls) else None
            if hello is not None:
                output_words += len(hello.split())
                yield TextChunk(text=hello)
            for call in calls:
                output_words += len(call.name.split("_")) + len(call.raw_arguments.split())
                yield call
        else:
            answer, name = _answer(turn), _agent_name(turn.system_text)
            pieces = structured_pieces(request.options, answer=answer, user_text=turn.user_text, agent_name=name)
            for piece in pieces or _pieces(answer):  # JSON items when the agent has data components
                await anyio.sleep(self.chunk_delay_s)
                output_words += len(piece.split())
                yield TextChunk(text=piece)
        yield FinishChunk(finish_reason="tool_calls" if calls else "stop")
        yield UsageChunk(input_tokens=_input_words(request), output_tokens=output_words)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Turn:
    """What the rules need to know about the conversation so far."""

    user_text: str
    """The user's last real message (transfer notes skipped)."""
    system_text: str
    messages: Sequence[Message]
    """The messages after the user's last real message: this turn's calls, results and notes."""
    calls: Mapping[str, ToolCall]
    """This turn's tool calls by id."""
    is_transferred: bool
    """A transfer already happened in this turn."""
    call_count: int
    """Tool calls in the whole request; new call ids continue after them."""

    @classmethod
    def read(cls, messages: Sequence[Message]) -> _Turn:
        prompt = [message.content for message in takewhile(_is_system, messages)]
        start = _user_index(messages)
        user = messages[start] if start is not None else None
        turn = messages[start + 1 :] if start is not None else messages[len(prompt) :]
        if start is not None:  # a note may also sit just before the user's message, after the history
            prompt += [message.content for message in takewhile(_is_system, reversed(messages[len(prompt) : start]))]
        calls = {
            call.id: call for message in turn if isinstance(message, AssistantMessage) for call in message.tool_calls
        }
        is_transferred = (
            any(call.name.startswith(_TRANSFER) for call in calls.values())
            or any(_PROMPT_TRANSFER_NOTE.search(text) for text in prompt)
            or any(_is_turn_note(message) for message in turn)
        )
        return cls(
            user_text=user.content.strip() if isinstance(user, UserMessage) else "",
            system_text="\n".join(message.content for message in messages if isinstance(message, SystemMessage)),
            messages=turn,
            calls=calls,
            is_transferred=is_transferred,
            call_count=sum(len(message.tool_calls) for message in messages if isinstance(message, AssistantMessage)),
        )

    def results(self) -> list[tuple[str, str]]:
        """This turn's tool results as (who answered, content), transfer hand-offs left out."""
        found = []
        for message in self.messages:
            if isinstance(message, ToolResultMessage):
                call = self.calls.get(message.tool_call_id)
                name = call.name if call else ""
                if not name.startswith(_TRANSFER):
                    found.append((_label(name), message.content))
        return found

    def ends_with_result(self) -> bool:
        """The last message is a tool result to report on (a transfer's own result is a hand-off, not one)."""
        trailing = []
        for message in reversed(self.messages):
            if not isinstance(message, ToolResultMessage):
                break
            trailing.append(self.calls.get(message.tool_call_id))
        return any(call is None or not call.name.startswith(_TRANSFER) for call in trailing)


def _user_index(messages: Sequence[Message]) -> int | None:
    """Index of the user's last real message: not a `<transfer_context>` note, nor a note right after a transfer."""
    found = None
    previous: Message | None = None
    transfer_ids: set[str] = set()
    for index, message in enumerate(messages):
        if isinstance(message, AssistantMessage):
            transfer_ids.update(call.id for call in message.tool_calls if call.name.startswith(_TRANSFER))
        if isinstance(message, UserMessage) and not (
            _TRANSFER_TAG in message.content or _follows_transfer(previous, transfer_ids)
        ):
            found = index
        if not isinstance(message, SystemMessage):
            previous = message
    return found


def _is_system(message: Message) -> bool:
    return isinstance(message, SystemMessage)


def _follows_transfer(previous: Message | None, transfer_ids: set[str]) -> bool:
    if isinstance(previous, ToolResultMessage):
        return previous.tool_call_id in transfer_ids
    return isinstance(previous, AssistantMessage) and any(call.id in transfer_ids for call in previous.tool_calls)


def _is_turn_note(message: Message) -> bool:
    """A note about a transfer inside the turn: the user cannot speak mid-turn, so any mention counts."""
    if isinstance(message, UserMessage):
        return True  # _user_index skipped it: a transfer note
    return isinstance(message, SystemMessage) and "transfer" in message.content.lower()


def _plan_calls(turn: _Turn, tools: Sequence[ToolSpec]) -> list[ToolCallChunk]:
    """Rules 1-4: the tool calls to make, or none (then the model answers in text)."""
    if turn.ends_with_result():
        return []
    transfers = [tool for tool in tools if tool.name.startswith(_TRANSFER)]
    delegations = [tool for tool in tools if tool.name.startswith(_DELEGATE)]
    mcp_tools = [tool for tool in tools if tool not in transfers and tool not in delegations]
    calls: list[tuple[ToolSpec, dict[str, Any]]] = []
    if transfers and not turn.is_transferred:
        target, score = _best_relation(transfers, turn.user_text, _TRANSFER)
        if score > 0:
            calls = [(target, _transfer_arguments(target, turn.user_text))]
    called = {call.name for call in turn.calls.values()}
    if not calls and mcp_tools and not called.intersection(tool.name for tool in mcp_tools):
        calls = [(tool, _object_value(tool.parameters, turn.user_text)) for tool in _matching_mcp(mcp_tools, turn)]
    if not calls and delegations and not any(name.startswith(_DELEGATE) for name in called):
        target, _ = _best_relation(delegations, turn.user_text, _DELEGATE)
        calls = [(target, {**_object_value(target.parameters, turn.user_text), "message": turn.user_text})]
    return [_call_chunk(tool, arguments, turn.call_count + n) for n, (tool, arguments) in enumerate(calls, 1)]


def _call_chunk(tool: ToolSpec, arguments: dict[str, Any], number: int) -> ToolCallChunk:
    return ToolCallChunk(id=f"call_{number}", name=tool.name, arguments=arguments, raw_arguments=json.dumps(arguments))


def _transfer_arguments(tool: ToolSpec, user_text: str) -> dict[str, Any]:
    arguments = _object_value(tool.parameters, user_text)
    if "reason" in _mapping(tool.parameters.get("properties")):
        arguments["reason"] = f"The user asked: {_shorten(user_text, 120)}"
    return arguments


def _best_relation(tools: Sequence[ToolSpec], user_text: str, prefix: str) -> tuple[ToolSpec, int]:
    """The relation tool whose target matches the user's words best, with its score (0: no match)."""
    boilerplate = _shared_words(tools)
    user_words = _words(user_text)
    scores = [_relation_score(tool, prefix, user_words, boilerplate) for tool in tools]
    best = _first_best(scores)
    return tools[best], scores[best]


def _first_best(scores: Sequence[int]) -> int:
    """Index of the highest score; ties go to the first, so the choice is deterministic."""
    return max(range(len(scores)), key=lambda index: (scores[index], -index))


def _relation_score(tool: ToolSpec, prefix: str, user_words: set[str], boilerplate: set[str]) -> int:
    target_id = tool.name.removeprefix(prefix).lower()
    description = _RELATION_LINE.sub("", tool.description)  # "Can transfer to: …" lists name other agents
    target_words = (_words(description) | _words(target_id.replace("-", " ").replace("_", " "))) - boilerplate
    score = 0
    for stems in _TOPICS.values():
        if _mentions(user_words, stems):
            score += 5 * any(stem in target_id for stem in stems) + 3 * _mentions(target_words, stems)
    return score + len(user_words & target_words)


def _matching_mcp(tools: Sequence[ToolSpec], turn: _Turn) -> list[ToolSpec]:
    """Every MCP tool that clearly matches (two shared words or more, at most three), else the best or first."""
    user_words = _words(turn.user_text)
    scores = [len(user_words & (_words(tool.name.replace("_", " ")) | _words(tool.description))) for tool in tools]
    clear = [tool for tool, score in zip(tools, scores, strict=True) if score >= 2][:_MAX_PARALLEL_CALLS]
    if clear:
        return clear
    return [tools[_first_best(scores)]]


def _schema_value(schema: Mapping[str, Any], user_text: str) -> Any:
    """A value for a JSON schema: text, 1, true, the first enum value, [] or an object of its required properties."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            return _schema_value(options[0], user_text)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "string")
    if kind == "object":
        return _object_value(schema, user_text)
    simple = {"integer": 1, "number": 1, "boolean": True, "array": [], "null": None}
    return simple.get(kind, user_text[:_ARGUMENT_CHARS]) if isinstance(kind, str) else user_text[:_ARGUMENT_CHARS]


def _object_value(schema: Mapping[str, Any], user_text: str) -> dict[str, Any]:
    """The required properties of an object schema, each with a value from `_schema_value`."""
    properties = _mapping(schema.get("properties"))
    required = schema.get("required")
    names = [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    return {name: _schema_value(_mapping(properties.get(name)), user_text) for name in names}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _answer(turn: _Turn) -> str:
    """Rules 1 and 5: the text answer."""
    agent = _agent_name(turn.system_text)
    who = f"{agent} here. " if agent else ""
    asked = f"“{_shorten(turn.user_text, 120)}”" if turn.user_text else "your message"
    results = turn.results() if turn.ends_with_result() else []
    if results:
        # Another offline agent's answer is quoted without its marker: once per answer is enough.
        quotes = "; ".join(f"{source} returned “{_shorten(text.replace(MARKER, ''), 80)}”" for source, text in results)
        return f"{MARKER} {who}Here is what I found for {asked}: {quotes}."
    return (
        f"{MARKER} {who}You asked {asked}. This is a scripted demo reply, not a real model: "
        "set INKEEP_DEFAULT_MODEL and a provider key to get real answers."
    )


def _agent_name(system_text: str) -> str | None:
    for pattern in _AGENT_NAME:
        if match := pattern.search(system_text):
            return match.group(1).strip()
    return None


def _label(tool_name: str) -> str:
    if tool_name.startswith(_DELEGATE):
        return f"agent {tool_name.removeprefix(_DELEGATE)}"
    return f"tool {tool_name}" if tool_name else "a tool"


def _pieces(text: str) -> list[str]:
    """Split the answer into chunks of a few words, spaces kept, as a model streams them."""
    tokens = re.findall(r"\S+\s*", text)
    return ["".join(tokens[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(tokens), _WORDS_PER_CHUNK)]


def _input_words(request: LLMRequest) -> int:
    count = 0
    for message in request.messages:
        if isinstance(message, AssistantMessage):
            count += sum(len(json.dumps(call.arguments).split()) + 1 for call in message.tool_calls)
        count += len(message.content.split())
    return count + sum(len(tool.description.split()) + 1 for tool in request.tools)


def _words(text: str) -> set[str]:
    """Lower-case content words, plural `s` dropped, stopwords out."""
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if len(word) >= 3 and word not in _STOPWORDS:
            words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return words


def _shared_words(tools: Sequence[ToolSpec]) -> set[str]:
    """Words every tool description has (the relation boilerplate); only meaningful with two tools or more."""
    if len(tools) < 2:
        return set()
    return set.intersection(*(_words(_RELATION_LINE.sub("", tool.description)) for tool in tools))


def _mentions(words: set[str], stems: tuple[str, ...]) -> bool:
    return any(word.startswith(stem) for word in words for stem in stems)


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
