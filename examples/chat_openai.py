"""Chat with the example graph through the official `openai` SDK, printing tokens as they arrive.

Start the server with `make serve` (it loads `graphs/customer-support.json`), create an API key for the
graph, and run:

    curl -s -X POST http://127.0.0.1:3002/tenants/default/crud/projects/default/api-keys \\
         -H 'content-type: application/json' -d '{"graphId": "customer-support"}'   # prints "key": "sk_..."
    INKEEP_API_KEY=sk_... .venv/bin/python examples/chat_openai.py [BASE_URL] [MESSAGE]

A server started with `--dev` accepts any key. The answer streams token by token; the conversation id
comes back in the `x-conversation-id` header, and sending it as `conversationId` continues the conversation.
`requestContext` names the customer (`userId`, required by the graph's context config); the runtime
fetches their profile from examples/profile_service.py, which `make serve` starts on port 3012.
"""

from __future__ import annotations

import os
import sys

from openai import OpenAI

GRAPH_PATH = "/tenants/default/projects/default/graphs/customer-support/v1"
USER_ID = "ada"


def main(base_url: str, message: str) -> None:
    """Ask the customer-support graph one question, then a follow-up in the same conversation."""
    client = OpenAI(base_url=base_url + GRAPH_PATH, api_key=os.environ.get("INKEEP_API_KEY") or "dev-mode")
    conversation_id: str | None = None
    for text in (message, "Thanks! Anything else I should know?"):
        extra: dict[str, object] = {"requestContext": {"userId": USER_ID}}
        if conversation_id:
            extra["conversationId"] = conversation_id
        stream = client.chat.completions.create(
            model="customer-support",  # required by the SDK; the graph decides which model answers
            messages=[{"role": "user", "content": text}],
            stream=True,
            extra_body=extra,
        )
        conversation_id = stream.response.headers["x-conversation-id"]
        print(f"you: {text}\nassistant: ", end="", flush=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
        print(f"\n(conversation: {conversation_id})\n", flush=True)


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:3002",
        sys.argv[2] if len(sys.argv) > 2 else "I was charged twice for my subscription this month.",
    )
