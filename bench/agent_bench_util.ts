/**
 * Measuring tools of the agent benchmark, all from outside the agent: a
 * netlink route monitor per netns that timestamps every change of a
 * hostgate route (protocol 151), the agent's memory from /proc, and agent
 * processes started inside a netns with their stderr kept in a file.
 * @module
 */
import { FfiNetlink } from "../src/system/netlink/mod.ts";
import { HOSTGATE_ROUTE_PROTOCOL, type RouteEvent } from "../src/system/netlink/types.ts";
import { ENTRY_POINTS, v8FlagArgs } from "../src/build/targets.ts";

/** The bundled agent (HOSTGATE_BENCH_AGENT: another bundle, for a before/after comparison). */
export const AGENT_BIN = Deno.env.get("HOSTGATE_BENCH_AGENT") ??
  new URL("../dist/bundle/hostgate-agent", import.meta.url).pathname;
/** The bundled plugin (the agent installs it). */
export const PLUGIN_BIN = new URL("../dist/bundle/hostgate", import.meta.url).pathname;

interface Waiter {
  dst: string;
  kind: RouteEvent["kind"];
  since: number;
  resolve: (t: number) => void;
}

/**
 * Watches one netns's hostgate routes through a netlink monitor (no process
 * per event, no polling): the last change of each destination with its
 * `performance.now()` time, and the number of destinations added so far.
 */
export class RouteWatch {
  readonly netns: string;
  /** dst -> last change seen. */
  readonly last = new Map<string, { kind: RouteEvent["kind"]; t: number }>();
  /** Destinations seen added at least once, with the first time. */
  readonly firstAdd = new Map<string, number>();
  /** True once the kernel dropped events (ENOBUFS): counts may be short. */
  overflowed = false;
  readonly #waiters = new Set<Waiter>();
  readonly #ac = new AbortController();
  readonly #done: Promise<void>;

  /** Starts watching at once; `netns` is a path like /run/netns/x. */
  constructor(netlink: FfiNetlink, netns: string) {
    this.netns = netns;
    this.#done = netlink.monitorRoutes({
      netns,
      signal: this.#ac.signal,
      onEvent: (ev) => this.#event(ev),
      onOverflow: () => this.overflowed = true,
    });
    this.#done.catch(() => {});
  }

  #event(ev: RouteEvent): void {
    if (ev.route.protocol !== HOSTGATE_ROUTE_PROTOCOL) return;
    const t = performance.now();
    const dst = ev.route.dst;
    this.last.set(dst, { kind: ev.kind, t });
    if (ev.kind === "add" && !this.firstAdd.has(dst)) this.firstAdd.set(dst, t);
    for (const w of this.#waiters) {
      if (w.dst === dst && w.kind === ev.kind && t >= w.since) {
        this.#waiters.delete(w);
        w.resolve(t);
      }
    }
  }

  /**
   * Resolves with the time `dst` was last seen reaching `kind` at or after
   * `since`; rejects after `timeoutMs`.
   */
  waitFor(
    dst: string,
    kind: RouteEvent["kind"],
    since: number,
    timeoutMs: number,
  ): Promise<number> {
    const seen = this.last.get(dst);
    if (seen && seen.kind === kind && seen.t >= since) return Promise.resolve(seen.t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`Cannot see route ${kind} of ${dst} in ${this.netns}: timeout`));
      }, timeoutMs);
      const w: Waiter = {
        dst,
        kind,
        since,
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
      };
      this.#waiters.add(w);
    });
  }

  /** Stops the monitor. */
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#done.catch(() => {});
  }
}

/** Memory of a process in KiB from /proc/<pid>/status (VmRSS now, VmHWM peak). */
export async function memoryOf(pid: number): Promise<{ rssKiB: number; hwmKiB: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return { rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

/** CPU time (user + system) a process has used so far, in ms. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ is 100 on Linux
}

/** A running agent. */
export interface AgentProcess {
  child: Deno.ChildProcess;
  /** Where its stderr goes. */
  logPath: string;
  /** Set once the process has exited. */
  exited: () => boolean;
  /** Sends SIGTERM and waits (SIGKILL after 3 s). */
  stop(): Promise<void>;
}

/**
 * Starts the bundled agent inside `netns` (`ip netns exec` execs, so the
 * child's pid is the agent's), its stderr copied to `logPath`.
 */
export async function startAgent(
  netns: string,
  args: string[],
  logPath: string,
  opts: { inspect?: string; v8Flags?: string[]; bin?: string } = {},
): Promise<AgentProcess> {
  // With `inspect` or `v8Flags`, the same bundle runs through deno (heap snapshots, experiments).
  const flags = opts.v8Flags
    ? (opts.v8Flags.length ? [`--v8-flags=${opts.v8Flags.join(",")}`] : [])
    : v8FlagArgs(ENTRY_POINTS.find((t) => t.name === "hostgate-agent")!);
  const program = opts.inspect || opts.v8Flags
    ? [
      Deno.execPath(),
      "run",
      ...(opts.inspect ? [`--inspect=${opts.inspect}`] : []),
      "--no-config",
      "--no-lock",
      "--ext=js",
      ...flags,
      "--allow-all",
      opts.bin ?? AGENT_BIN,
    ]
    : [opts.bin ?? AGENT_BIN];
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", netns, ...program, "run", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = await Deno.open(logPath, { write: true, create: true, truncate: true });
  const copied = (async () => {
    try {
      for await (const chunk of child.stderr) {
        for (let off = 0; off < chunk.length;) off += await log.write(chunk.subarray(off));
      }
    } catch {
      // the agent is gone
    } finally {
      log.close();
    }
  })();
  let exited = false;
  child.status.then(() => exited = true);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already exited
        }
      }, 3000);
      await child.status;
      clearTimeout(timer);
      await copied;
    })();
  return { child, logPath, stop, exited: () => exited };
}

/** The last `n` lines of a file (for error messages). */
export async function tail(path: string, n = 15): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** The plugin and CNI directory flags of an agent whose files live under `tmp/node`. */
export function dirsOf(tmp: string, node: string): string[] {
  return [
    `--cni-bin-dir=${tmp}/${node}/bin`,
    `--cni-conf-dir=${tmp}/${node}/conf`,
    `--ipam-dir=${tmp}/${node}/ipam`,
    `--plugin-src=${PLUGIN_BIN}`,
  ];
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` every 5 ms; throws after `timeoutMs` (or when `ok` throws). */
export async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`Cannot benchmark the agent: ${what}: timeout`);
    await sleep(5);
  }
}
