"""`POST /tenants/{t}/projects/{p}/graphs/{g}/api/chat`: the Vercel AI SDK UI message stream over a graph.

The body is what `useChat` sends (AI SDK 5+: `id`, `messages` with `parts`, `trigger`; the chat `id` is
the conversation unless `conversationId` is given) or the legacy AI SDK 4 body (`messages` with
`content`); see `protocols.requests.parse_ui_chat`. The answer is always a stream
(`UIMessageStreamAdapter`, reference/protocols.md §B.2) with the SDK's headers
(`x-vercel-ai-ui-message-stream: v1`, and `x-vercel-ai-data-stream: v2` for Inkeep's clients) and
`x-conversation-id`. Admission and streaming are shared with `/v1/chat/completions` (`chat.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from inkeep_runtime.http.chat import RUN_PREFIX, event_stream
from inkeep_runtime.http.endpoint import Call, Endpoint
from inkeep_runtime.http.run_auth import admit_run
from inkeep_runtime.protocols.requests import UIChatBody, parse_ui_chat
from inkeep_runtime.protocols.vercel_stream import UIMessageStreamAdapter

if TYPE_CHECKING:
    from inkeep_runtime.app import Services

__all__ = ["API_CHAT_PATH", "api_chat", "data_stream_endpoints"]

API_CHAT_PATH = f"{RUN_PREFIX}/api/chat"


async def api_chat(call: Call) -> Response:
    """Run one turn of the graph for an AI SDK chat request, streaming UI message chunks."""
    services: Services = call.services
    runner, prepared = await admit_run(call.request, services, parse_ui_chat, source="api_chat")
    adapter = UIMessageStreamAdapter(message_id=f"msg_{prepared.run_id}")
    headers = {"x-conversation-id": prepared.conversation_id}
    return event_stream(call.request, adapter, runner.stream(prepared), headers)


def data_stream_endpoints() -> list[Endpoint]:
    """The AI SDK run endpoint (the body is read by the handler, after the API key is checked)."""
    return [
        Endpoint(
            method="POST",
            path=API_CHAT_PATH,
            summary="Chat with a graph (Vercel AI SDK UI message stream)",
            description=(
                "Send the body `useChat` sends (`id`, `messages` with `parts`, `trigger`; or the AI SDK 4 body "
                "with `content`) with `Authorization: Bearer <API key of this graph>`. The answer is a UI message "
                "stream (`x-vercel-ai-ui-message-stream: v1`) ending in `data: [DONE]`; the response's "
                "`x-conversation-id` header names the conversation."
            ),
            body_schema=UIChatBody,
            handler=api_chat,
            tag="Chat",
            errors=(400, 401, 404, 413),
        )
    ]
