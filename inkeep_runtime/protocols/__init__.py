"""Wire protocols of the run API: request bodies in, `RunEvent`s out as SSE payloads.

`requests` parses the chat bodies into a neutral `RunRequest`; `openai_sse` and `vercel_stream` are the
`ProtocolAdapter`s of `/v1/chat/completions` and `/api/chat` (see `base` for what they share).
"""

from __future__ import annotations

from inkeep_runtime.protocols.base import DONE, ProtocolAdapter, operation_payload, sse_frame, sse_text
from inkeep_runtime.protocols.openai_sse import OpenAICompletionCollector, OpenAIStreamAdapter, collect_completion
from inkeep_runtime.protocols.requests import (
    HistoryMessage,
    RunOptions,
    RunRequest,
    parse_chat_completions,
    parse_ui_chat,
)
from inkeep_runtime.protocols.vercel_stream import UIMessageStreamAdapter

__all__ = [
    "DONE",
    "HistoryMessage",
    "OpenAICompletionCollector",
    "OpenAIStreamAdapter",
    "ProtocolAdapter",
    "RunOptions",
    "RunRequest",
    "UIMessageStreamAdapter",
    "collect_completion",
    "operation_payload",
    "parse_chat_completions",
    "parse_ui_chat",
    "sse_frame",
    "sse_text",
]
