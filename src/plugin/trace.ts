/**
 * `HOSTGATE_TRACE=<file>`: per-call phase timings for the benchmark's cost
 * breakdown. With the variable set, main.ts wraps the plugin's dependencies
 * (netlink handles, the file system, the IPAM backend) so every kernel step,
 * netns switch, lock wait and IPAM write becomes a span, and appends one JSON
 * line per call to the file (one `write` with O_APPEND, so 20 racing calls
 * never interleave their lines). Never stdout: the runtime parses stdout.
 *
 * Unset, nothing is wrapped and main.ts only checks one variable: zero cost.
 * Times are `performance.now()` milliseconds (relative to the process's
 * `performance.timeOrigin`, which the line carries so the bench can place the
 * process start, spawn to origin, on its own clock).
 * @module
 */
import type { Ipam } from "../ipam/types.ts";
import type { Exec } from "../system/exec.ts";
import type { FileSystem } from "../system/fs.ts";
import type { Netlink, NetlinkHandle } from "../system/netlink/types.ts";
import type { Tc } from "../system/tc.ts";

/**
 * When this module was evaluated. main.ts imports it first and it imports
 * nothing at run time, so in the bundle this is the first line of the
 * program that runs: everything before it (from the time origin) is Deno
 * loading, and V8 compiling or deserialising, the script.
 */
export const MODULE_START: number = performance.now();

/** One timed step: name, start and end in ms since the time origin, nesting depth. */
export type Span = [name: string, start: number, end: number, depth: number];

/** Records spans of one plugin call. */
export interface Tracer {
  /** False for the no-op tracer: callers skip wrapping anything. */
  readonly on: boolean;
  /** Times a synchronous step (or an async one: the span ends when its promise settles). */
  span<T>(name: string, fn: () => T): T;
  /** Records a span measured elsewhere. */
  add(name: string, start: number, end: number): void;
  /** Appends the call's line to the trace file; never throws. */
  flush(fields: Record<string, unknown>): void;
}

/** The tracer that records nothing. */
export const NO_TRACE: Tracer = {
  on: false,
  span: (_name, fn) => fn(),
  add: () => {},
  flush: () => {},
};

/** A tracer appending to `file`, or NO_TRACE when `file` is empty or unset. */
export function openTracer(file: string | undefined): Tracer {
  if (!file) return NO_TRACE;
  const spans: Span[] = [];
  let depth = 0;
  const span = <T>(name: string, fn: () => T): T => {
    const start = performance.now();
    const d = depth++;
    let out: T;
    try {
      out = fn();
    } catch (e) {
      depth--;
      spans.push([name, start, performance.now(), d]);
      throw e;
    }
    if (out instanceof Promise) {
      // The plugin runs one task: what runs until the promise settles is inside this span.
      const done = () => {
        depth--;
        spans.push([name, start, performance.now(), d]);
      };
      out.then(done, done);
    } else {
      depth--;
      spans.push([name, start, performance.now(), d]);
    }
    return out;
  };
  return {
    on: true,
    span,
    add: (name, start, end) => spans.push([name, start, end, depth]),
    flush: (fields) => {
      const line = JSON.stringify({
        ...fields,
        pid: Deno.pid,
        origin: performance.timeOrigin,
        moduleStart: MODULE_START,
        end: performance.now(),
        spans: spans.map(([n, s, e, d]) => [n, round(s), round(e), d]),
      });
      try {
        Deno.writeTextFileSync(file, line + "\n", { append: true, mode: 0o600 });
      } catch {
        // Tracing must never change the call's outcome.
      }
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Wraps every function-valued property of `target` in a span named
 * `<prefix> <key>`. `syncWork`: the calls do all their work before they
 * return (the plugin's SyncFileSystem hands back settled promises), so the
 * span ends at the return, not when a promise callback gets its turn.
 */
function wrapMethods<T extends object>(
  target: T,
  prefix: string,
  tracer: Tracer,
  syncWork = false,
): T {
  return new Proxy(target, {
    get(obj, key) {
      const v = Reflect.get(obj, key, obj);
      if (typeof v !== "function" || typeof key !== "string") return v;
      const name = `${prefix} ${key}`;
      if (!syncWork) return (...args: unknown[]) => tracer.span(name, () => v.apply(obj, args));
      return (...args: unknown[]) => {
        const start = performance.now();
        try {
          return v.apply(obj, args);
        } finally {
          tracer.add(name, start, performance.now());
        }
      };
    },
  });
}

/**
 * Netlink whose handles time each call. Opening a handle for a pod's netns
 * is the netns switch (setns in, socket, setns back), named apart from the
 * node's plain socket; a pod handle's sysctl calls switch too.
 */
export function tracedNetlink(netlink: Netlink, tracer: Tracer): Netlink {
  return {
    open: (netns?: string): NetlinkHandle => {
      const name = netns ? "netns switch: open pod handle" : "netlink: open node socket";
      const h = tracer.span(name, () => netlink.open(netns));
      return wrapMethods(h, netns ? "netlink(pod):" : "netlink:", tracer);
    },
    monitorRoutes: (opts) => netlink.monitorRoutes(opts),
  };
}

/** Traffic control whose calls are spans (`tc: apply`, `tc: qdiscs`, ...). */
export function tracedTc(tc: Tc, tracer: Tracer): Tc {
  return wrapMethods(tc, "tc:", tracer);
}

/**
 * A file system timing the IPAM store's lock: the wait for the flock, then
 * the time it is held (read, allocate, write), and each file call.
 */
export function tracedFs(fs: FileSystem, tracer: Tracer): FileSystem {
  const inner = wrapMethods(fs, "fs:", tracer, true);
  return new Proxy(inner, {
    get(obj, key) {
      if (key !== "lock") return Reflect.get(obj, key, obj);
      return async (path: string) => {
        const unlock = await tracer.span("ipam: lock wait", () => fs.lock(path));
        const held = performance.now();
        return async () => {
          await unlock();
          tracer.add("ipam: lock held (read, allocate, write)", held, performance.now());
        };
      };
    },
  });
}

/** Runs programs with each run a span named by the program (`exec: nft`). */
export function tracedExec(exec: Exec, tracer: Tracer): Exec {
  return {
    run: (argv, opts) => {
      const prog = (argv[0] ?? "").slice((argv[0] ?? "").lastIndexOf("/") + 1);
      return tracer.span(`exec: ${prog}`, () => exec.run(argv, opts));
    },
  };
}

/** An IPAM backend whose operations are spans (`ipam add`, `ipam del`, ...). */
export function tracedIpam(ipam: Ipam, tracer: Tracer): Ipam {
  return wrapMethods(ipam, "ipam:", tracer);
}
