/**
 * The one FFI symbol table of hostgate: the libc calls the netlink layer
 * needs. Everything here runs synchronously on the calling thread except
 * `poll`, declared `nonblocking` so the route monitor can wait for events on
 * a worker thread without blocking the JS event loop.
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  /** open(2) without O_CREAT: the variadic mode argument is never read. */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The opened library: call `symbols.<name>`. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/**
 * Opens libc. Call once per process (FfiNetlink does) and share the result:
 * dlopen is cheap after the first time but the symbol table is not.
 */
export function openLibc(): Libc {
  return Deno.dlopen("libc.so.6", SYMBOLS);
}

/**
 * The calling thread's errno. Read it right after the failing call, before any
 * other FFI call can overwrite it.
 */
export function errno(libc: Libc): number {
  const p = libc.symbols.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

const encoder = new TextEncoder();

/** A NUL-terminated C string for a path argument. */
export function cString(s: string): Uint8Array {
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
