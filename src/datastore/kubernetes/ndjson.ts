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
 * Yields each non-empty line of `body` parsed as JSON. A line that is not
 * JSON throws (a broken stream is a failed watch, never a skipped event).
 * A trailing line without a newline is parsed at the end of the stream.
 */
export async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  const parse = (bytes: Uint8Array): unknown => {
    const text = decoder.decode(bytes).trim();
    return text === "" ? undefined : JSON.parse(text);
  };
  for await (const chunk of body) {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      const line = pending.length === 0
        ? piece
        : concat([...pending, piece], pendingLength + piece.length);
      pending = [];
      pendingLength = 0;
      const value = parse(line);
      if (value !== undefined) yield value;
    }
    if (start < chunk.length) {
      // Copy: the stream may reuse the chunk's buffer.
      const rest = chunk.slice(start);
      pending.push(rest);
      pendingLength += rest.length;
    }
  }
  if (pendingLength > 0) {
    const value = parse(concat(pending, pendingLength));
    if (value !== undefined) yield value;
  }
}
