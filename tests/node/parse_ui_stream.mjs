// Parse a UI message stream (SSE text on stdin) with the real `ai` package and print what it assembled.
//
// usage: node parse_ui_stream.mjs < body.txt
// Prints one JSON line and exits 0 when the SDK accepts every chunk and their order:
//   {"ok": true, "message": <UIMessage>, "errors": [<errorText of each `error` chunk>], "types": [...], "done": bool}
// or {"ok": false, "error": "..."} and exits 1 when it rejects the stream (schema or ordering).
// `error` chunks are legal and not fatal to `useChat`; they are collected here and kept out of the
// fold, because `terminateOnError` (which makes every real problem fatal) would also stop on them.
import { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } from 'ai';

async function readStdin() {
  const parts = [];
  for await (const chunk of process.stdin) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

try {
  const text = await readStdin();
  const types = [];
  const errors = [];
  const chunks = parseJsonEventStream({ stream: new Response(text).body, schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (!result.success) throw result.error;
        types.push(result.value.type);
        if (result.value.type === 'error') errors.push(result.value.errorText);
        else controller.enqueue(result.value);
      },
    }),
  );
  let message;
  for await (const snapshot of readUIMessageStream({ stream: chunks, terminateOnError: true })) {
    message = snapshot;
  }
  const done = text.trimEnd().endsWith('data: [DONE]');
  console.log(JSON.stringify({ ok: true, message, errors, types, done }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
  process.exit(1);
}
