/**
 * Reading and writing whole frames (frame.ts) on a stream connection, for
 * both ends of the plugin socket.
 * @module
 */
import { frameLength } from "./frame.ts";

/** A connection as both ends use it (Deno.Conn, or a test's pipe). */
export interface FrameConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
}

async function readFull(conn: FrameConn, n: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) {
      throw new Error(`Cannot read the ${what}: the connection closed after ${off} of ${n} bytes`);
    }
    off += got;
  }
  return out;
}

/** Reads one frame's body (at most `max` bytes). */
export async function readFrame(conn: FrameConn, max: number, what: string): Promise<Uint8Array> {
  const header = await readFull(conn, 4, what);
  return await readFull(conn, frameLength(header, max), what);
}

/** Writes all of `bytes`. */
export async function writeAll(conn: FrameConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
