"""A2A client for external agents: card resolution, JSON-RPC `message/send`, retries.

An external agent record names a `baseUrl`. The client resolves the agent card at
`<baseUrl>/.well-known/agent-card.json` (A2A 0.3+), then `<baseUrl>/.well-known/agent.json` (0.2 and
Inkeep), or at `baseUrl` itself when it ends in `.json`. When neither card exists, `baseUrl` is taken
to be the JSON-RPC endpoint of a 0.3 agent (peers that serve no card). Resolved cards are cached per
`baseUrl` for `card_ttl_s`; a 404 from the endpoint drops the entry. Which protocol version is spoken
and how answers are read is `client_wire.py`'s business.

Every request carries the external agent's headers (its record's headers merged with its resolved
credential). Failures are typed `A2AError`s (an `UpstreamError`) whose detail names the agent and what
went wrong, never a header value or a URL's query. Connection errors, HTTP 429 and 5xx are retried
with exponential backoff and jitter (honouring `Retry-After`, capped) up to `max_attempts`; the whole
call, card resolution and retries included, is bounded by `timeout_s`.

`send_message` waits for the whole answer (delegations). `stream_message` asks for a stream when the
card says the agent streams and yields the answer text as it arrives (transfers, whose answer the user
watches); once the stream has started nothing is retried, as text may already be shown.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, Final

import anyio
import httpx

from inkeep_runtime.a2a.client_stream import A2ADelta, StreamReader, sse_data
from inkeep_runtime.a2a.client_wire import (
    RETRYABLE_STATUS,
    A2AAnswer,
    A2AError,
    A2AProtocolError,
    A2ARejected,
    A2ATimeout,
    A2AUnavailable,
    AgentEndpoint,
    RemoteAgent,
    answer_from_result,
    card_urls,
    check_status,
    endpoint_from_card,
    jsonrpc_result,
    parse_json,
    redact_url,
    retry_after,
    send_request,
)

__all__ = [
    "A2AAnswer",
    "A2AClient",
    "A2ADelta",
    "A2AError",
    "A2AProtocolError",
    "A2ARejected",
    "A2ATimeout",
    "A2AUnavailable",
    "AgentEndpoint",
    "RemoteAgent",
]

logger = logging.getLogger(__name__)

_NO_CARD_STATUS: Final = frozenset({404, 405, 410})
_MAX_BODY_BYTES: Final = 5 * 1024 * 1024


class A2AClient:
    """Talks to external agents over A2A JSON-RPC (0.3 and 1.0)."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_attempts: int = 4,
        retry_base_s: float = 0.1,
        retry_max_s: float = 10.0,
        card_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a client.

        Args:
            http: shared outbound client; without one, each call opens its own.
            timeout_s: longest a whole call may take (card, retries and answer included).
            connect_timeout_s: longest wait for one TCP/TLS connection.
            max_attempts: tries per HTTP request when the agent is unreachable or answers 429/5xx.
            retry_base_s: first backoff delay; it doubles per attempt (with jitter) up to `retry_max_s`.
            retry_max_s: longest wait between attempts, also the cap on a `Retry-After`.
            card_ttl_s: how long a resolved card is reused.
            clock: monotonic seconds (for the card cache).
        """
        self._http = http
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_attempts = max(1, max_attempts)
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._card_ttl_s = card_ttl_s
        self._clock = clock
        self._cards: dict[str, tuple[float, AgentEndpoint]] = {}

    async def send_message(
        self,
        agent: RemoteAgent,
        text: str,
        *,
        context_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> A2AAnswer:
        """Send `text` to `agent` (blocking `message/send` / `SendMessage`) and return its answer.

        This is the outbound A2A call (one span's worth): card resolution, the request and its retries.

        Raises:
            A2ATimeout: no answer within `timeout_s`.
            A2AUnavailable: unreachable, or 429/5xx through every attempt.
            A2ARejected: HTTP 4xx or a JSON-RPC error.
            A2AProtocolError: the card or the answer is not valid A2A.
            A2AError: the remote task failed, was rejected or canceled, or needs authentication.
        """
        return await self._send(agent, text, context_id, metadata, anyio.current_time() + self._timeout_s)

    async def _send(
        self, agent: RemoteAgent, text: str, context_id: str | None, metadata: Mapping[str, Any] | None, deadline: float
    ) -> A2AAnswer:
        try:
            with anyio.fail_at(deadline):
                endpoint = await self.resolve(agent, deadline=deadline)
                request = send_request(endpoint.protocol_version, text, context_id=context_id, metadata=metadata)
                status, body = await self._fetch(agent, "POST", endpoint.url, deadline, body=request, endpoint=endpoint)
        except TimeoutError as exc:
            raise self._timeout(agent) from exc
        self._check(agent, endpoint, status)
        return answer_from_result(agent.id, jsonrpc_result(agent.id, body))

    async def stream_message(
        self,
        agent: RemoteAgent,
        text: str,
        *,
        context_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[A2ADelta | A2AAnswer, None]:
        """Send `text` and yield the answer text as it streams in, then the whole `A2AAnswer` (last).

        Agents whose card does not declare streaming get a blocking send, yielded as one piece. This is
        the outbound A2A call for transfers; it raises what `send_message` raises.
        """
        deadline = anyio.current_time() + self._timeout_s
        try:
            with anyio.fail_at(deadline):
                endpoint = await self.resolve(agent, deadline=deadline)
        except TimeoutError as exc:
            raise self._timeout(agent) from exc
        if not endpoint.is_streaming:
            answer = await self._send(agent, text, context_id, metadata, deadline)
            yield A2ADelta(answer.text)
            yield answer
            return
        request = send_request(
            endpoint.protocol_version, text, context_id=context_id, metadata=metadata, is_streaming=True
        )
        async with AsyncExitStack() as stack:
            try:
                with anyio.fail_at(deadline):
                    response = await self._open(agent, stack, "POST", endpoint.url, deadline, request, endpoint)
                    is_stream = response.headers.get("content-type", "").startswith("text/event-stream")
                    body = b"" if is_stream and response.status_code == 200 else await _read(response)
            except TimeoutError as exc:
                raise self._timeout(agent) from exc
            self._check(agent, endpoint, response.status_code)
            if not is_stream:  # a server may answer a streaming request with one JSON-RPC response
                answer = answer_from_result(agent.id, jsonrpc_result(agent.id, body))
                yield A2ADelta(answer.text)
                yield answer
                return
            reader = StreamReader(agent.id)
            events = sse_data(response.aiter_lines())
            while not reader.is_done:
                try:
                    with anyio.fail_at(deadline):  # per read: never hold a cancel scope across a yield
                        data = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise self._timeout(agent) from exc
                except httpx.TransportError:
                    msg = f"External agent '{agent.id}' broke off its answer stream."
                    raise A2AUnavailable(msg, agentId=agent.id) from None
                piece = reader.feed(jsonrpc_result(agent.id, data))
                if piece:
                    yield A2ADelta(piece)
            yield reader.answer()

    async def resolve(self, agent: RemoteAgent, *, deadline: float | None = None) -> AgentEndpoint:
        """The agent's JSON-RPC endpoint, from its card (cached).

        Raises:
            A2AUnavailable, A2ARejected, A2AProtocolError: as for `send_message`.
        """
        cached = self._cards.get(agent.base_url)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        deadline = anyio.current_time() + self._timeout_s if deadline is None else deadline
        endpoint: AgentEndpoint | None = None
        for url in card_urls(agent.base_url):
            status, body = await self._fetch(agent, "GET", url, deadline)
            if status in _NO_CARD_STATUS:
                continue
            check_status(agent.id, status, url)
            card = parse_json(agent.id, body, f"The card at {redact_url(url)}")
            endpoint = endpoint_from_card(card, url, agent.id)
            break
        if endpoint is None:
            logger.info("External agent '%s' serves no agent card; using its base URL as the endpoint.", agent.id)
            endpoint = AgentEndpoint(url=agent.base_url, protocol_version="0.3")
        self._cards[agent.base_url] = (self._clock() + self._card_ttl_s, endpoint)
        return endpoint

    def _check(self, agent: RemoteAgent, endpoint: AgentEndpoint, status: int) -> None:
        if status == 404:  # the card may be stale: read it again next time
            self._cards.pop(agent.base_url, None)
        check_status(agent.id, status, endpoint.url)

    def _timeout(self, agent: RemoteAgent) -> A2ATimeout:
        msg = f"External agent '{agent.id}' did not answer within {self._timeout_s:g} s."
        return A2ATimeout(msg, agentId=agent.id)

    async def _fetch(
        self,
        agent: RemoteAgent,
        method: str,
        url: str,
        deadline: float,
        *,
        body: dict[str, Any] | None = None,
        endpoint: AgentEndpoint | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP exchange with retries; (status, body)."""
        async with AsyncExitStack() as stack:
            response = await self._open(agent, stack, method, url, deadline, body, endpoint)
            return response.status_code, await _read(response)

    async def _open(
        self,
        agent: RemoteAgent,
        stack: AsyncExitStack,
        method: str,
        url: str,
        deadline: float,
        body: dict[str, Any] | None,
        endpoint: AgentEndpoint | None,
    ) -> httpx.Response:
        """Send a request, retried on connection errors, 429 and 5xx; the response (unread) closes with `stack`."""
        http = self._http
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient())
        headers = {**agent.headers, "Accept": "application/json, text/event-stream"}
        if endpoint is not None:
            headers["A2A-Version"] = endpoint.protocol_version
        # The caller's deadline bounds the whole call; httpx itself only bounds the connect.
        timeout = httpx.Timeout(None, connect=self._connect_timeout_s)
        attempt = 0
        while True:
            attempt += 1
            request = http.build_request(method, url, headers=headers, json=body, timeout=timeout)
            try:
                response = await http.send(request, stream=True)
            except httpx.TransportError as exc:  # its message can carry the request: name the class only
                why = f"could not be reached at {redact_url(url)} ({type(exc).__name__})"
                if attempt >= self._max_attempts:
                    msg = f"External agent '{agent.id}' {why} after {attempt} attempt(s)."
                    raise A2AUnavailable(msg, agentId=agent.id) from None
                await self._backoff(agent, attempt, None, deadline, why)
                continue
            if response.status_code not in RETRYABLE_STATUS or attempt >= self._max_attempts:
                stack.push_async_callback(response.aclose)
                return response
            await response.aclose()
            wait_s = retry_after(response.headers.get("retry-after"))
            await self._backoff(agent, attempt, wait_s, deadline, f"answered HTTP {response.status_code}")

    async def _backoff(
        self, agent: RemoteAgent, attempt: int, retry_after_s: float | None, deadline: float, why: str
    ) -> None:
        if retry_after_s is not None:
            delay = min(retry_after_s, self._retry_max_s)
        else:
            cap = min(self._retry_max_s, self._retry_base_s * 2 ** (attempt - 1))
            delay = random.uniform(cap / 2, cap)  # "equal jitter": spread retries, never zero
        if anyio.current_time() + delay >= deadline:
            msg = f"External agent '{agent.id}' {why}, and the call has no time left to retry."
            raise A2AUnavailable(msg, agentId=agent.id)
        logger.info("External agent '%s' %s; retrying in %.2f s (attempt %d).", agent.id, why, delay, attempt + 1)
        await anyio.sleep(delay)


async def _read(response: httpx.Response) -> bytes:
    """The response body, cut at 5 MiB (an A2A answer is text, never bulk data)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > _MAX_BODY_BYTES:
            break
        chunks.append(chunk)
    return b"".join(chunks)
