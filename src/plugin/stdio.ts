/**
 * The plugin's standard streams, synchronously: one small config in, one
 * small result out, nothing else for the process to do meanwhile. Stdout is
 * for the result only; logs go to stderr. Imports nothing, so the entry can
 * answer VERSION with it alone.
 * @module
 */

/** Reads stdin to its end: cheaper than a stream for one small config. */
export function readStdin(): string {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Writes all of `text` to stdout. */
export function writeStdout(text: string): void {
  writeAll(Deno.stdout, text);
}

/** Writes all of `line` to stderr (the default log sink). */
export function stderrSink(line: string): void {
  writeAll(Deno.stderr, line);
}

function writeAll(to: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += to.writeSync(bytes.subarray(off));
}
