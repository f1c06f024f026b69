// Chat with the example graph through the Vercel AI SDK (`ai` v6): the same transport `useChat` uses.
//
// Start the server with `make serve`, create an API key for the graph (see examples/chat_openai.py), and run:
//
//   INKEEP_API_KEY=sk_... node examples/chat_ai_sdk.mjs [BASE_URL] [MESSAGE]
//
// A server started with `--dev` accepts any key. The script sends exactly the body `useChat` sends
// (`id`, `messages` with `parts`, `trigger`) to `/api/chat`, folds the UI message stream into one
// assistant message as the SDK does, and prints its parts. It uses your project's `ai` package when
// there is one, else the copy in tests/node (`npm ci --prefix tests/node`).

async function loadAi() {
  try {
    return await import('ai');
  } catch {
    return await import(new URL('../tests/node/node_modules/ai/dist/index.mjs', import.meta.url));
  }
}

const { DefaultChatTransport, readUIMessageStream } = await loadAi();

const base = process.argv[2] ?? 'http://127.0.0.1:3002';
const text = process.argv[3] ?? 'My app shows error 502 when I log in.';
let conversationId = null;

const transport = new DefaultChatTransport({
  api: `${base}/tenants/default/projects/default/graphs/customer-support/api/chat`,
  headers: { authorization: `Bearer ${process.env.INKEEP_API_KEY || 'dev-mode'}` },
  // The graph's context config requires the customer's userId; their profile is fetched from
  // examples/profile_service.py (`make serve` starts it on port 3012).
  body: { requestContext: { userId: 'ada' } },
  fetch: async (url, init) => {
    const response = await fetch(url, init);
    conversationId = response.headers.get('x-conversation-id');
    return response;
  },
});

const chunks = await transport.sendMessages({
  chatId: `chat-${Date.now()}`,
  trigger: 'submit-message',
  messageId: undefined,
  abortSignal: undefined,
  messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text }] }],
});

const errors = [];
let message;
for await (const snapshot of readUIMessageStream({ stream: chunks, onError: (error) => errors.push(String(error)) })) {
  message = snapshot;
}

console.log(`you: ${text}`);
for (const part of message?.parts ?? []) {
  if (part.type === 'text') console.log(`assistant: ${part.text}`);
  else if (part.type === 'data-operation') console.log(`  [${part.data.type}] ${part.data.label ?? ''}`);
  else if (part.type === 'dynamic-tool') console.log(`  [tool ${part.toolName}] ${part.state}`);
}
for (const error of errors) console.log(`error: ${error}`);
console.log(`(conversation: ${conversationId})`);
console.log(JSON.stringify({ conversationId, message }));
process.exit(errors.length ? 1 : 0);
