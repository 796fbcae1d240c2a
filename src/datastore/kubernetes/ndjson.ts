/**
 * Streaming decode of a watch response: newline-delimited JSON, one event per
 * line. Bytes are kept as chunks until a newline arrives and only that line
 * is decoded and parsed, so a long-lived watch never grows one string and a
 * 10 KB Node event costs one 10 KB decode, not a rescan of everything seen.
 * @module
 */

const NEWLINE = 0x0a;

/** Joins byte chunks into one array (the common case, one chunk, is not copied). */
function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(length);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Yields each line of `body` as bytes (without the newline; blank lines
 * skipped), so the caller decodes only what it keeps (see prune.ts). A
 * trailing line without a newline is yielded at the end of the stream. A
 * line growing past `maxLineBytes` throws (a hostile stream never makes the
 * reader buffer without bound).
 */
export async function* byteLines(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
  maxLineBytes = Infinity,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  const blank = (line: Uint8Array) => line.every((c) => c <= 0x20);
  const reader = body.getReader();
  // An abort cancels the read in progress (a fetch abort alone can leave it waiting on
  // data already queued), so a closed watch always ends.
  const stop = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value: chunk, done } = await reader.read();
      if (done) break;
      yield* splitChunk(chunk);
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    reader.releaseLock();
  }
  if (pendingLength > 0) {
    const line = concat(pending, pendingLength);
    if (!blank(line)) yield line;
  }

  function* splitChunk(chunk: Uint8Array): Generator<Uint8Array> {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      const line = pending.length === 0
        ? piece
        : concat([...pending, piece], pendingLength + piece.length);
      pending = [];
      pendingLength = 0;
      if (!blank(line)) yield line;
    }
    if (pendingLength + chunk.length - start > maxLineBytes) {
      throw new Error(`Cannot read a watch event: a line over ${maxLineBytes} bytes`);
    }
    if (start < chunk.length) {
      // Copy: the stream may reuse the chunk's buffer.
      const rest = chunk.slice(start);
      pending.push(rest);
      pendingLength += rest.length;
    }
  }
}

/**
 * Yields each non-empty line of `body` parsed as JSON. A line that is not
 * JSON throws (a broken stream is a failed watch, never a skipped event).
 */
export async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  for await (const line of byteLines(body)) yield JSON.parse(decoder.decode(line));
}
