"""A fake OpenAI-compatible model: `POST /v1/chat/completions` answered from a queue of scripted turns.

openai-agents' `FakeModel`, but over real HTTP, so litellm, the `openai` SDK and the runtime's own
client all run their real code paths. Each request takes the next `Turn` from the queue (or asks a
responder callable) and is answered in the exact wire format of reference/protocols.md A.2
(`stream: false`) or A.3 (`stream: true`, SSE, with the usage chunk when `stream_options.include_usage`).
Every request body is recorded, together with whether the client went away mid-response.

```python
fake_llm.add(Turn.tool_calls([("call_1", "add", {"a": 1, "b": 2})]), Turn.text("It is 3."))
client = LiteLLMClient(...)  # model "openai/fake", api_base=fake_llm.base_url, api_key="x"
assert fake_llm.requests[1].messages[-1]["role"] == "tool"
```
"""

from __future__ import annotations

import inspect
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.servers import serve

__all__ = ["FakeLLM", "RecordedRequest", "Responder", "Turn", "fake_llm"]

CREATED = 1_700_000_000
"""The `created` timestamp of every response (fixed, so snapshots stay stable)."""
PARTIAL_TEXT = "Here is the first part of an answer that will not finish"
"""What an error turn with `after_chunks` streams before it fails, unless told otherwise."""

ToolCallScript = tuple[str, str, Mapping[str, Any] | str]
"""`(call id, tool name, arguments)`; a `str` is sent as the raw arguments, so it may be broken JSON."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One scripted model answer. Build it with `Turn.text`, `Turn.tool_calls` or `Turn.error`."""

    text_chunks: tuple[str, ...] = ()
    """Content deltas, in order."""
    calls: tuple[tuple[str, str, str], ...] = ()
    """Tool calls as `(id, name, raw JSON arguments)` per call; streamed as index 0, 1, ..."""
    error_status: int | None = None
    """HTTP status of a failing turn (sent as the response status unless `after_chunks` is set)."""
    error_message: str = ""
    after_chunks: int | None = None
    """Stream this many content/tool-call chunks (after the role chunk), then fail mid-stream."""
    drop_connection: bool = False
    """Fail mid-stream by cutting the connection instead of sending an `error` event."""
    retry_after_s: float | None = None
    """`Retry-After` header of an HTTP error."""
    delay_s: float = 0.0
    """Wait before the response starts (status and headers included)."""
    chunk_delay_s: float = 0.0
    """Wait before each content/tool-call chunk."""
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None
    """`(prompt_tokens, completion_tokens)`; default: words in the request's messages, chunks sent."""

    @classmethod
    def text(
        cls,
        text: str | Sequence[str],
        *,
        delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        finish_reason: str = "stop",
        usage: tuple[int, int] | None = None,
    ) -> Turn:
        """Answer with text: a `str` is split before each word ("Hello world" → "Hello", " world")."""
        chunks = tuple(re.findall(r"\s*\S+\s*$|\s*\S+", text)) if isinstance(text, str) else tuple(text)
        return cls(
            text_chunks=chunks, delay_s=delay_s, chunk_delay_s=chunk_delay_s, finish_reason=finish_reason, usage=usage
        )

    @classmethod
    def tool_calls(
        cls,
        calls: Sequence[ToolCallScript],
        *,
        text: str | Sequence[str] = (),
        delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        usage: tuple[int, int] | None = None,
    ) -> Turn:
        """Answer with tool calls (parallel when several), optionally after some text."""
        scripted = tuple(
            (call_id, name, args if isinstance(args, str) else json.dumps(args)) for call_id, name, args in calls
        )
        chunks = cls.text(text).text_chunks if text else ()
        return cls(
            text_chunks=chunks,
            calls=scripted,
            delay_s=delay_s,
            chunk_delay_s=chunk_delay_s,
            finish_reason="tool_calls",
            usage=usage,
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "The fake model failed on purpose.",
        *,
        after_chunks: int | None = None,
        drop_connection: bool = False,
        text: str | Sequence[str] = PARTIAL_TEXT,
        retry_after_s: float | None = None,
        delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
    ) -> Turn:
        """Fail with HTTP `status`, or, with `after_chunks`, after streaming that many chunks of `text`."""
        return cls(
            text_chunks=cls.text(text).text_chunks if after_chunks is not None else (),
            error_status=status,
            error_message=message,
            after_chunks=after_chunks,
            drop_connection=drop_connection,
            retry_after_s=retry_after_s,
            delay_s=delay_s,
            chunk_delay_s=chunk_delay_s,
        )


@dataclass(slots=True, kw_only=True)
class RecordedRequest:
    """One request the fake received, and what became of its response."""

    body: dict[str, Any]
    headers: dict[str, str]
    turn: Turn | None = None
    """The turn that answered it (None: the script was empty)."""
    disconnected: bool = False
    """The client went away before the response was complete."""
    finished: anyio.Event = field(default_factory=anyio.Event)
    """Set once the response is over: sent in full, failed on purpose, or abandoned by the client."""

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.tools]

    @property
    def is_streaming(self) -> bool:
        return bool(self.body.get("stream"))


Responder = Callable[[RecordedRequest], Turn | Awaitable[Turn]]
"""Decides a turn from the request (for concurrent tests, where queue order would be a race)."""


class FakeLLM:
    """The fake model server: an ASGI `app`, its script, and the requests it has seen."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat_completions, methods=["POST"])])
        self.requests: list[RecordedRequest] = []
        self.responder: Responder | None = None
        """Answers requests once the queue is empty (None: they get an HTTP 400 naming the problem)."""
        self.base_url = ""
        """`http://127.0.0.1:PORT/v1` while running (what litellm's `api_base` and `openai`'s `base_url` take)."""
        self._script: deque[Turn | Responder] = deque()

    def add(self, *turns: Turn | Responder) -> FakeLLM:
        """Queue turns (or responders for one request each); returns self for chaining."""
        self._script.extend(turns)
        return self

    @property
    def pending(self) -> int:
        """Scripted turns not yet used."""
        return len(self._script)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FakeLLM]:
        """Serve on a loopback port and set `base_url` for the duration."""
        async with serve(self.app) as url:
            self.base_url = f"{url}/v1"
            try:
                yield self
            finally:
                self.base_url = ""

    async def _next_turn(self, record: RecordedRequest) -> Turn | None:
        step = self._script.popleft() if self._script else self.responder
        if step is None or isinstance(step, Turn):
            return step
        turn = step(record)
        return await turn if inspect.isawaitable(turn) else turn

    async def _chat_completions(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error_response(400, "The request body is not valid JSON.", None)
        record = RecordedRequest(body=body, headers=dict(request.headers))
        self.requests.append(record)
        record.turn = await self._next_turn(record)
        if record.turn is None:
            record.finished.set()
            msg = f"The fake LLM has no scripted turn left for request {len(self.requests)}."
            return _error_response(400, msg, None)
        return _TurnResponse(record.turn, record, request_number=len(self.requests))


def _error_response(status: int, message: str, retry_after_s: float | None) -> JSONResponse:
    headers = {"retry-after": f"{retry_after_s:g}"} if retry_after_s is not None else None
    return JSONResponse(_error_body(status, message), status_code=status, headers=headers)


def _error_body(status: int, message: str) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error"}
    kind = kinds.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class _TurnResponse(Response):
    """Plays one turn, watching for the client going away (recorded as `disconnected`) meanwhile."""

    def __init__(self, turn: Turn, record: RecordedRequest, *, request_number: int) -> None:
        self.turn = turn
        self.record = record
        self.completion_id = f"chatcmpl-fake-{request_number}"
        self.is_done = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
                if self.turn.delay_s:
                    await anyio.sleep(self.turn.delay_s)
                if self.turn.error_status is not None and self.turn.after_chunks is None:
                    await self._send_http_error(scope, receive, send)
                elif self.record.is_streaming:
                    await self._stream(send)
                else:
                    await JSONResponse(self._completion())(scope, receive, send)
                self.is_done = True
                group.cancel_scope.cancel()
        finally:
            self.record.finished.set()

    async def _watch_disconnect(self, receive: Receive, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.is_done:
            self.record.disconnected = True
            scope.cancel()

    async def _send_http_error(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.turn.error_status is not None
        response = _error_response(self.turn.error_status, self.turn.error_message, self.turn.retry_after_s)
        await response(scope, receive, send)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": self.record.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if self._includes_usage:
            chunk["usage"] = None
        return chunk

    @property
    def _includes_usage(self) -> bool:
        options = self.record.body.get("stream_options") or {}
        return bool(options.get("include_usage"))

    def _deltas(self) -> list[dict[str, Any]]:
        """Content deltas, then per tool call one fragment with id/name and a few argument pieces."""
        deltas: list[dict[str, Any]] = [{"content": text} for text in self.turn.text_chunks]
        for index, (call_id, name, arguments) in enumerate(self.turn.calls):
            head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            deltas.append({"tool_calls": [head]})
            step = max(1, -(-len(arguments) // 3))
            for start in range(0, len(arguments), step):
                piece = {"index": index, "function": {"arguments": arguments[start : start + step]}}
                deltas.append({"tool_calls": [piece]})
        return deltas

    async def _stream(self, send: Send) -> None:
        turn = self.turn
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )

        async def emit(payload: Mapping[str, Any]) -> None:
            await send({"type": "http.response.body", "body": _sse(payload), "more_body": True})

        role: dict[str, Any] = {"role": "assistant", "content": None if turn.calls else ""}
        await emit(self._chunk(role))
        deltas = self._deltas()
        for sent, delta in enumerate(deltas):
            if turn.after_chunks is not None and sent == turn.after_chunks:
                break
            if turn.chunk_delay_s:
                await anyio.sleep(turn.chunk_delay_s)
            await emit(self._chunk(delta))
        if turn.after_chunks is not None:
            if turn.drop_connection:
                return  # uvicorn closes the connection of a response left incomplete
            await emit(_error_body(turn.error_status or 500, turn.error_message))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await emit(self._chunk({}, turn.finish_reason))
        if self._includes_usage:
            await emit({**self._chunk({}), "choices": [], "usage": self._usage(len(deltas))})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    def _usage(self, chunks: int) -> dict[str, int]:
        if self.turn.usage is not None:
            prompt, completion = self.turn.usage
        else:
            prompt = max(1, sum(len(str(m.get("content") or "").split()) for m in self.record.messages))
            completion = max(1, chunks)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _completion(self) -> dict[str, Any]:
        turn = self.turn
        message: dict[str, Any] = {"role": "assistant", "content": "".join(turn.text_chunks) or None, "refusal": None}
        if turn.calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                for call_id, name, arguments in turn.calls
            ]
        elif message["content"] is None:
            message["content"] = ""
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": CREATED,
            "model": self.record.model,
            "choices": [{"index": 0, "finish_reason": turn.finish_reason, "logprobs": None, "message": message}],
            "usage": self._usage(len(self._deltas())),
            "system_fingerprint": None,
        }


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeLLM]:
    """A running fake model with an empty script; `fake_llm.base_url` ends in `/v1`."""
    async with FakeLLM().running() as fake:
        yield fake
