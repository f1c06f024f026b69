"""The model seam: `LLMClient.stream(request)` yields text as it arrives and tool calls once complete.

Everything above this module (turns, the executor) sees four small chunk types and the `LLMError`
family; everything below it is litellm. `LiteLLMClient` is the only place that imports litellm, and it
does so in a worker thread at start-up (`warm()`), because the import takes seconds and the first call
lazily imports hundreds more modules.

Rules the implementation keeps:
- **Errors are mapped once, here**: 429 → `LLMRateLimited`, timeouts → `LLMTimeout`, the rest →
  `LLMError`, always `raise ... from exc`, and with every secret we were given redacted from the text.
- **Retries only while nothing was yielded.** 429, 5xx and connection failures are retried with
  exponential backoff and jitter (honouring `Retry-After`) until the first chunk reaches the caller.
  After that the caller has shown text to a user, and a retry would repeat it, so errors surface at once.
- **`timeout_s` is an idle timeout**: the longest wait for the call to start answering and between
  two chunks. A long answer that keeps streaming is fine; the run deadline bounds the total. It is
  applied with `anyio.fail_after` around each wait, never across a `yield`, because a cancel scope
  left open at a `yield` would fire inside the consumer's code.
- **Closing**: the upstream stream is closed (shielded) when the stream ends, fails, or the consumer
  stops or is cancelled, so the provider connection is released at once. Use `aclosing()`.
- **The per-chunk path is lean**: litellm already builds several objects per chunk (15-25x the CPU of
  relaying raw SSE on the reference machine); this loop adds attribute reads, one small dataclass
  per text delta and one cancel scope per wait, and no logging.
"""

from __future__ import annotations

import importlib
import json
import logging
import uuid
import warnings
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import anyio
from pydantic import BaseModel

from inkeep_runtime.errors import LLMError, LLMRateLimited, LLMTimeout
from inkeep_runtime.llm.failures import redact, retry_delay_s
from inkeep_runtime.llm.messages import Message, ToolCall, ToolSpec, messages_to_openai, tools_to_openai

__all__ = [
    "FinishChunk",
    "FinishReason",
    "LLMChunk",
    "LLMClient",
    "LLMRequest",
    "LiteLLMClient",
    "TextChunk",
    "ToolCallChunk",
    "UsageChunk",
]

logger = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# What litellm 1.106's first `acompletion(stream=True, tools=...)` would otherwise import on the event
# loop (about 450 modules, over a second). Best effort: a missing name only costs that second back.
_WARM_MODULES = (
    "litellm.responses.mcp.chat_completions_handler",
    "litellm.proxy.openai_files_endpoints.common_utils",
    "litellm.llms.openai_like.dynamic_config",
    "litellm.llms.openai.chat.gpt_audio_transformation",
    "litellm.llms.litellm_proxy.chat.transformation",
    "litellm.llms.vertex_ai.vertex_ai_partner_models.anthropic.transformation",
    "litellm.litellm_core_utils.default_encoding",
    "litellm.types.litellm_core_utils.streaming_chunk_builder_utils",
    "litellm._service_logger",
    "openai.resources",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMRequest:
    """One model call."""

    model: str
    """A litellm model name, e.g. `openai/gpt-4o-mini` or `anthropic/claude-sonnet-4-5`."""
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    """Provider options passed to litellm as keyword arguments (`api_base`, `api_key`, `temperature`,
    `max_tokens`, `timeout`, `extra_headers`, ...). Secret-looking values are redacted from errors."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TextChunk:
    """A piece of answer text, as soon as it arrived."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallChunk:
    """One complete tool call, emitted after the model finished (calls keep the model's order)."""

    id: str
    name: str
    arguments: dict[str, Any]
    """Parsed arguments; `{}` when they were not a JSON object (see `arguments_error`)."""
    raw_arguments: str
    """The arguments text exactly as the model produced it."""
    arguments_error: str | None = None
    """Why the arguments could not be used; the executor returns it to the model as a tool error."""

    @property
    def call(self) -> ToolCall:
        """The call as it goes into the assistant message of the history."""
        return ToolCall(id=self.id, name=self.name, arguments=self.arguments)


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishChunk:
    """Why the model stopped (`tool_calls` whenever it called tools)."""

    finish_reason: FinishReason


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageChunk:
    """Token counts of this one model call."""

    input_tokens: int
    output_tokens: int


LLMChunk = TextChunk | ToolCallChunk | FinishChunk | UsageChunk
"""What a model stream yields: text chunks, then tool calls, then one finish and (usually) one usage."""


class LLMClient(Protocol):
    """The seam between a turn and the model provider."""

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        """Call the model and stream its answer.

        Iterate under `contextlib.aclosing` so the upstream call is closed when the consumer stops early.

        Raises:
            LLMError: The provider failed (`LLMRateLimited`, `LLMTimeout` for those cases).
        """
        ...


@dataclass(frozen=True, slots=True)
class _Litellm:
    """The few litellm attributes the client uses, read once after the import."""

    acompletion: Any
    rate_limit_error: type[Exception]
    timeout_error: type[Exception]


class _PartialCall:
    """A tool call being assembled from streamed fragments."""

    __slots__ = ("id", "name", "parts")

    def __init__(self, call_id: str | None, name: str | None) -> None:
        self.id = call_id or ""
        self.name = name or ""
        self.parts: list[str] = []


class LiteLLMClient:
    """`LLMClient` on `litellm.acompletion(stream=True)`.

    Args:
        timeout_s: Longest wait for the model to start answering, and between two chunks.
        max_attempts: Calls per request, the first included, for retryable failures (429, 5xx, connection).
        retry_base_s: First backoff delay; doubles per attempt, with +/-50% jitter.
        max_retry_delay_s: Cap on one backoff delay. A longer `Retry-After` is not waited for: the
            error is raised at once.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        max_attempts: int = 3,
        retry_base_s: float = 0.2,
        max_retry_delay_s: float = 10.0,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.max_retry_delay_s = max_retry_delay_s
        self._litellm: _Litellm | None = None

    async def warm(self) -> None:
        """Import litellm and what its first call needs, in a worker thread (call it at start-up)."""
        if self._litellm is None:
            self._litellm = await anyio.to_thread.run_sync(_import_litellm)

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        """Call the model and stream its answer (see `LLMClient.stream`)."""
        if self._litellm is None:
            await self.warm()
        assert self._litellm is not None
        acompletion = self._litellm.acompletion
        kwargs = _completion_kwargs(request)
        timeout_s = self.timeout_s
        attempt = 1
        upstream: Any = None
        calls: dict[int, _PartialCall] = {}
        finish_reason: str | None = None
        usage: Any = None
        has_yielded = False
        try:
            while True:
                try:
                    if upstream is None:
                        with anyio.fail_after(timeout_s):
                            upstream = await acompletion(**kwargs)
                    with anyio.fail_after(timeout_s):
                        chunk = await upstream.__anext__()
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    delay_s = self._retry_delay_s(exc, request, attempt, has_yielded=has_yielded)
                    await _close(upstream)
                    upstream, calls, finish_reason, usage = None, {}, None, None
                    attempt += 1
                    await anyio.sleep(delay_s)
                    continue
                # The hot path: one pass per streamed chunk.
                choices = chunk.choices
                if choices:
                    choice = choices[0]
                    delta = choice.delta
                    text = delta.content
                    if text:
                        has_yielded = True
                        yield TextChunk(text=text)
                    fragments = delta.tool_calls
                    if fragments:
                        _add_fragments(calls, fragments)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                chunk_usage = getattr(chunk, "usage", None)
                if chunk_usage is not None:
                    usage = chunk_usage
        finally:
            await _close(upstream)
        for final in _final_chunks(calls, finish_reason, usage):
            yield final

    def _retry_delay_s(self, exc: Exception, request: LLMRequest, attempt: int, *, has_yielded: bool) -> float:
        """How long to wait before retrying after `exc`.

        Raises:
            LLMError: `exc` mapped, when it must not be retried (see the module docstring).
        """
        delay_s = None
        if not has_yielded and attempt < self.max_attempts:
            delay_s = retry_delay_s(exc, attempt, base_s=self.retry_base_s, cap_s=self.max_retry_delay_s)
        if delay_s is None:
            raise self._error(exc, request) from exc
        logger.warning(
            "Model %s failed (%s); retry %d of %d in %.2f s",
            request.model, type(exc).__name__, attempt, self.max_attempts - 1, delay_s,
        )  # fmt: skip
        return delay_s

    def _error(self, exc: Exception, request: LLMRequest) -> LLMError:
        """The runtime's error for a provider failure, with secrets redacted from the text."""
        assert self._litellm is not None
        model = request.model
        if isinstance(exc, TimeoutError):  # anyio.fail_after
            return LLMTimeout(f"Model '{model}' sent nothing for {self.timeout_s:g} s (the LLM timeout).")
        text = redact(str(exc), request.options)
        if isinstance(exc, self._litellm.rate_limit_error) or getattr(exc, "status_code", None) == 429:
            return LLMRateLimited(f"Model '{model}' is rate limited by its provider: {text}")
        if isinstance(exc, self._litellm.timeout_error):
            return LLMTimeout(f"Model '{model}' timed out at the provider: {text}")
        return LLMError(f"Model '{model}' failed: {text}")


def _import_litellm() -> _Litellm:
    """Runs in a worker thread: the import takes seconds and must not block the event loop."""
    import litellm  # the package's one litellm import, deferred to start-up on purpose
    from litellm.exceptions import RateLimitError, Timeout

    litellm.suppress_debug_info = True  # otherwise every error prints a "Give Feedback" banner to stdout
    for name in _WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - another litellm version
            logger.debug("litellm warm-up could not import %s", name)
    with warnings.catch_warnings():
        # pydantic notes, once per model, that litellm's own TypedDicts use `ReadOnly`: noise for our users.
        warnings.filterwarnings("ignore", message=r"Items? .* using the `ReadOnly` qualifier", category=UserWarning)
        _build_litellm_models()
    return _Litellm(acompletion=litellm.acompletion, rate_limit_error=RateLimitError, timeout_error=Timeout)


def _build_litellm_models() -> None:
    """Build litellm's deferred pydantic schemas now, in the warm-up thread.

    litellm defers them to first use, which would put about a second of CPU on the event loop during the
    first requests (and raise pydantic's `ReadOnly` notice there, outside the filter above).
    """
    pending = [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if model.__module__.startswith("litellm.") and not model.__pydantic_complete__:
                try:
                    model.model_rebuild(raise_errors=False)
                except Exception:  # pragma: no cover - a model that cannot be built is built on first use
                    logger.debug("litellm warm-up could not build %s", model.__qualname__, exc_info=True)


def _completion_kwargs(request: LLMRequest) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        **request.options,
        "model": request.model,
        "messages": messages_to_openai(request.messages),
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_retries": 0,  # retries are ours: only before the first chunk reaches the caller
    }
    if request.tools:
        kwargs["tools"] = tools_to_openai(request.tools)
    return kwargs


def _add_fragments(calls: dict[int, _PartialCall], fragments: Sequence[Any]) -> None:
    """Fold streamed tool-call fragments in by `index`: id and name come once, arguments in pieces."""
    for position, fragment in enumerate(fragments):
        index = fragment.index if fragment.index is not None else position
        function = fragment.function
        call = calls.get(index)
        if call is None:
            call = calls[index] = _PartialCall(fragment.id, function.name if function else None)
        else:  # litellm repeats `type` on every fragment; a provider may also repeat id/name
            call.id = call.id or fragment.id or ""
            call.name = call.name or (function.name if function else None) or ""
        if function is not None and function.arguments:
            call.parts.append(function.arguments)


def _complete_call(call: _PartialCall, index: int) -> ToolCallChunk:
    raw = "".join(call.parts)
    call_id = call.id or f"call_{index}_{uuid.uuid4().hex[:12]}"
    if not raw.strip():
        return ToolCallChunk(id=call_id, name=call.name, arguments={}, raw_arguments=raw)
    try:
        arguments = json.loads(raw)
    except ValueError as exc:
        error = f"The arguments of tool '{call.name}' are not valid JSON ({exc}); expected a JSON object."
        return ToolCallChunk(id=call_id, name=call.name, arguments={}, raw_arguments=raw, arguments_error=error)
    if not isinstance(arguments, dict):
        error = f"The arguments of tool '{call.name}' are a JSON {type(arguments).__name__}; expected an object."
        return ToolCallChunk(id=call_id, name=call.name, arguments={}, raw_arguments=raw, arguments_error=error)
    return ToolCallChunk(id=call_id, name=call.name, arguments=arguments, raw_arguments=raw)


def _finish_reason(reason: str | None, *, has_calls: bool) -> FinishReason:
    """OpenAI's finish reasons; some providers say `stop` (or nothing) after tool calls."""
    normalised = _FINISH_REASONS.get(reason or "stop", "stop")
    return "tool_calls" if has_calls and normalised == "stop" else normalised


def _final_chunks(calls: dict[int, _PartialCall], finish_reason: str | None, usage: Any) -> list[LLMChunk]:
    """What follows the text: the tool calls in index order, the finish reason, the usage if sent."""
    final: list[LLMChunk] = [_complete_call(calls[index], index) for index in sorted(calls)]
    final.append(FinishChunk(finish_reason=_finish_reason(finish_reason, has_calls=bool(calls))))
    if usage is not None:
        final.append(UsageChunk(input_tokens=usage.prompt_tokens or 0, output_tokens=usage.completion_tokens or 0))
    return final


async def _close(upstream: Any) -> None:
    """Close the litellm stream (and with it the HTTP response), even while being cancelled."""
    if upstream is None:
        return
    with anyio.move_on_after(2, shield=True):
        try:
            await upstream.aclose()
        except Exception:  # closing is best effort; the call's own outcome is what matters
            logger.debug("closing the model stream failed", exc_info=True)
