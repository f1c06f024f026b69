"""A paced fake model: OpenAI-compatible streaming `POST /v1/chat/completions` on raw asyncio.

Run as its own process (`python -m bench.upstream --port 0`); it prints `listening on PORT` once ready.
Every request is answered with a `chat.completion.chunk` stream: a role chunk, N content chunks at a
fixed rate (one token per chunk, varied text, because litellm fails after ~100 identical chunks), a
finish chunk, a usage chunk when `stream_options.include_usage` is set, and `data: [DONE]`.

N and the rate come from the last user message, so they pass unchanged through the runtime:
`"bench tokens=200 rate=50"`; missing values take the `--tokens`/`--rate` defaults. The first content
chunk goes out at once, the k-th at `start + k / rate` (absolute schedule, so timer lateness does not
accumulate). Raw asyncio instead of uvicorn keeps the fake's own jitter and CPU small; responses use
chunked transfer encoding, so clients keep their connections alive. asyncio sets TCP_NODELAY itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from typing import Any

__all__ = ["main"]

_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec",
)  # fmt: skip
_SETTING = re.compile(r"\b(tokens|rate)=([0-9.]+)")
_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_END = b"0\r\n\r\n"


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _settings(body: dict[str, Any], tokens: int, rate: float) -> tuple[int, float]:
    """Tokens and rate asked for by the last user message (defaults otherwise)."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    text = content if isinstance(content, str) else json.dumps(content)
    found = dict(_SETTING.findall(text))
    return int(found.get("tokens", tokens)), float(found.get("rate", rate))


class Upstream:
    """The server's state: defaults and a request counter (for completion ids)."""

    def __init__(self, *, tokens: int, rate: float) -> None:
        self.tokens = tokens
        self.rate = rate
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one keep-alive connection until the client closes it."""
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        if method == "GET" and path == "/health":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
            return True
        if method != "POST" or not path.endswith("/chat/completions"):
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            return True
        await self._stream(json.loads(body), writer)
        return headers.get("connection", "").lower() != "close"

    async def _stream(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        tokens, rate = _settings(body, self.tokens, self.rate)
        model = json.dumps(str(body.get("model", "bench")))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        usage_field = ',"usage":null' if include_usage else ""
        envelope = f'{{"id":"chatcmpl-bench-{self.requests}","object":"chat.completion.chunk","created":1700000000,'
        envelope += f'"model":{model},"system_fingerprint":null'
        token_head = (envelope + ',"choices":[{"index":0,"delta":{"content":').encode()
        token_tail = ('},"finish_reason":null,"logprobs":null}]' + usage_field + "}\n\n").encode()

        def event(choices: str, extra: str = usage_field) -> bytes:
            return _chunked(f"data: {envelope},{choices}{extra}}}\n\n".encode())

        writer.write(
            _HEAD + event('"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]')
        )
        await writer.drain()
        loop = asyncio.get_running_loop()
        start = loop.time()
        interval = 1.0 / rate if rate > 0 else 0.0
        for index in range(tokens):
            delay = start + index * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            word = f" {_WORDS[index % len(_WORDS)]}{index}"
            writer.write(_chunked(b"data: " + token_head + json.dumps(word).encode() + token_tail))
            await writer.drain()
        tail = event('"choices":[{"index":0,"delta":{},"finish_reason":"stop","logprobs":null}]')
        if include_usage:
            usage = f'"usage":{{"prompt_tokens":5,"completion_tokens":{tokens},"total_tokens":{tokens + 5}}}'
            tail += event('"choices":[]', "," + usage)
        writer.write(tail + _chunked(b"data: [DONE]\n\n") + _END)
        await writer.drain()


async def _serve(host: str, port: int, tokens: int, rate: float) -> None:
    upstream = Upstream(tokens=tokens, rate=rate)
    server = await asyncio.start_server(upstream.handle, host, port, backlog=4096, limit=1 << 20)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the flags and serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start).")
    parser.add_argument("--tokens", type=int, default=64, help="Default tokens per answer.")
    parser.add_argument("--rate", type=float, default=50.0, help="Default tokens per second.")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.tokens, args.rate))


if __name__ == "__main__":
    main()
