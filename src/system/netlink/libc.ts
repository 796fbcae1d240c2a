/**
 * The one FFI symbol table of hostgate: the libc calls the netlink layer
 * needs. Everything here runs synchronously on the calling thread except
 * `poll`, declared `nonblocking` so the route monitor can wait for events on
 * a worker thread without blocking the JS event loop.
 *
 * Deno compiles a call trampoline for every symbol at `dlopen` time, about
 * 0.1 ms each on top of ~0.6 ms for the first `dlopen` of a process. The
 * plugin is a fresh process per pod, so the symbols come in groups: the socket
 * group (with errno) is opened with the library, the others on first use — a
 * DEL needs only the socket and async groups, an ADD the socket and file/netns
 * groups, and only the agent's route monitor the monitor group. errno's group is never opened
 * lazily: a `dlopen` between a failing call and the errno read could clobber it.
 * @module
 */

/** Netlink socket calls and errno: every netlink operation. */
const SOCKET_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** Entering another netns and the /proc/sys files: a pod's handle, sysctls. */
const FILE_SYMBOLS = {
  /** open(2) without O_CREAT: the variadic mode argument is never read. */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const;

/** Multicast subscriptions, the monitors' wait loop, the legacy table fingerprint. */
const MONITOR_SYMBOLS = {
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  /** The iptables-legacy table fingerprint (IPT_SO_GET_INFO). */
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
} as const;

/**
 * `send` again, run on a worker thread: for a request whose kernel work
 * blocks (deleting a veth), so the JS thread keeps going meanwhile. errno of
 * a failed call belongs to that thread and cannot be read.
 */
const ASYNC_SYMBOLS = {
  sendAsync: {
    name: "send",
    parameters: ["i32", "buffer", "usize", "i32"],
    result: "isize",
    nonblocking: true,
  },
} as const;

/** The process's own state: its effective capabilities (the agent's plugin socket). */
const PROCESS_SYMBOLS = {
  capget: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

const GROUPS = [
  SOCKET_SYMBOLS,
  FILE_SYMBOLS,
  MONITOR_SYMBOLS,
  ASYNC_SYMBOLS,
  PROCESS_SYMBOLS,
] as const;

type Symbols =
  & typeof SOCKET_SYMBOLS
  & typeof FILE_SYMBOLS
  & typeof MONITOR_SYMBOLS
  & typeof ASYNC_SYMBOLS
  & typeof PROCESS_SYMBOLS;

/** The opened library: call `symbols.<name>`. */
export interface Libc {
  readonly symbols: Deno.StaticForeignLibraryInterface<Symbols>;
  /** Closes every group opened so far. */
  close(): void;
}

/**
 * Opens libc. Call once per process (FfiNetlink does) and share the result.
 * The socket group is opened now; every other group when its first symbol is
 * read, once.
 */
export function openLibc(): Libc {
  const opened: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];
  const symbols: Record<string, unknown> = {};
  for (const [i, group] of GROUPS.entries()) {
    let lib: Deno.DynamicLibrary<Deno.ForeignLibraryInterface> | undefined;
    const load = () => {
      if (!lib) {
        lib = Deno.dlopen("libc.so.6", group as Deno.ForeignLibraryInterface);
        opened.push(lib);
      }
      return lib.symbols;
    };
    for (const name of Object.keys(group)) {
      Object.defineProperty(symbols, name, {
        enumerable: true,
        configurable: true,
        get() {
          const fn = load()[name];
          // Replace the getter by the function itself: later calls are plain property reads.
          Object.defineProperty(symbols, name, { value: fn, enumerable: true });
          return fn;
        },
      });
    }
    if (i === 0) load();
  }
  return {
    symbols: symbols as unknown as Libc["symbols"],
    close: () => {
      for (const lib of opened.splice(0)) lib.close();
    },
  };
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
