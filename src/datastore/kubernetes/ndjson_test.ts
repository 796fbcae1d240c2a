import { deepEqual, rejects } from "node:assert/strict";
import { jsonLines } from "./ndjson.ts";

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(parts.map((p) => enc.encode(p)));
}

async function all(body: ReadableStream<Uint8Array>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const v of jsonLines(body)) out.push(v);
  return out;
}

Deno.test("jsonLines: events split across chunks, several per chunk, blank lines, no final newline", async () => {
  const events = await all(streamOf([
    '{"type":"ADDED","obj',
    'ect":{"a":1}}\n{"type":"MODIFIED"}\n\n{"type":',
    '"DELETED","x":"é"}\n',
    '{"type":"BOOKMARK"}',
  ]));
  deepEqual(events, [
    { type: "ADDED", object: { a: 1 } },
    { type: "MODIFIED" },
    { type: "DELETED", x: "é" },
    { type: "BOOKMARK" },
  ]);
});

Deno.test("jsonLines: a multi-byte character split between chunks decodes whole", async () => {
  const bytes = new TextEncoder().encode('{"n":"ü"}\n');
  const body = ReadableStream.from([bytes.slice(0, 7), bytes.slice(7)]);
  deepEqual(await all(body), [{ n: "ü" }]);
});

Deno.test("jsonLines: a broken line fails the stream", async () => {
  await rejects(all(streamOf(['{"ok":1}\n{broken\n'])), SyntaxError);
});
