/**
 * Long-running processes of the simulated cluster (agents, etcd, echo and
 * iperf3 servers), each started inside a namespace with its output appended
 * to a log file by the kernel, not through a pipe to the harness: so a
 * process may outlive the harness (`demo --keep`) without dying of a broken
 * pipe, and its log is there to print when a check fails. `ip netns exec`,
 * `setsid` and the `sh` wrapper all exec, so the pid we hold is the
 * program's own pid (kill -9 hits the agent, not a wrapper).
 * @module
 */
import { run } from "../helpers/netns.ts";

/** A process started by `spawnIn`. */
export interface Proc {
  /** What it is, for messages ("agent n1"). */
  name: string;
  pid: number;
  /** File receiving its stdout and stderr. */
  log: string;
  /** Resolves when it exits (only while the harness that started it lives). */
  done: Promise<Deno.CommandStatus>;
  child: Deno.ChildProcess;
}

/** Options of `spawnIn`. */
export interface SpawnOptions {
  name: string;
  /** Namespace to run in. */
  netns: string;
  argv: string[];
  /** Log file (appended). */
  log: string;
  env?: Record<string, string>;
  /** Own session, so the process survives the harness and a Ctrl-C in its terminal. */
  detach?: boolean;
  /** Keep stdin/stdout as pipes to the harness (stderr still goes to the log). */
  pipes?: boolean;
}

// Constant script, input only through "$@": no shell string is ever built from data.
const REDIRECT_ALL = 'log=$1; shift; exec "$@" >>"$log" 2>&1';
const REDIRECT_ERR = 'log=$1; shift; exec "$@" 2>>"$log"';

/** Starts `argv` inside `netns` with its output going to `log`. */
export function spawnIn(opts: SpawnOptions): Proc {
  const script = opts.pipes ? REDIRECT_ERR : REDIRECT_ALL;
  const argv = [
    ...(opts.detach ? ["setsid"] : []),
    "ip",
    "netns",
    "exec",
    opts.netns,
    "sh",
    "-c",
    script,
    "sh",
    opts.log,
    ...opts.argv,
  ];
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: opts.env,
    stdin: opts.pipes ? "piped" : "null",
    stdout: opts.pipes ? "piped" : "null",
    stderr: "null",
  }).spawn();
  return { name: opts.name, pid: child.pid, log: opts.log, done: child.status, child };
}

/** True while `pid` runs a command line containing `needle` (guards against pid reuse). */
export async function pidRuns(pid: number, needle: string): Promise<boolean> {
  try {
    const raw = await Deno.readFile(`/proc/${pid}/cmdline`);
    const text = new TextDecoder().decode(raw);
    if (!text.includes(needle)) return false;
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Sends `sig` and waits until the process is gone; SIGKILL after `graceMs`. */
export async function stopProc(p: Proc, opts: { sig?: Deno.Signal; graceMs?: number } = {}) {
  signal(p.pid, opts.sig ?? "SIGTERM");
  const timer = setTimeout(() => signal(p.pid, "SIGKILL"), opts.graceMs ?? 3000);
  try {
    await p.done;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a process known only by pid (a kept cluster); checks `needle` first. */
export async function stopPid(pid: number, needle: string, graceMs = 3000): Promise<void> {
  if (!(await pidRuns(pid, needle))) return;
  signal(pid, "SIGTERM");
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    if (!(await pidRuns(pid, needle))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  signal(pid, "SIGKILL");
}

/** Pids of every process living in `netns` (ours: we made the namespace). */
export async function pidsIn(netns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", netns]);
  if (r.code !== 0) return [];
  return r.stdout.split("\n").map((s) => Number(s.trim())).filter((n) => n > 0);
}

/**
 * Ends every process still inside the namespaces (SIGTERM, then SIGKILL):
 * a namespace with a process in it outlives `ip netns del`.
 */
export async function sweepNamespaces(names: string[], graceMs = 2000): Promise<void> {
  const pids = (await Promise.all(names.map(pidsIn))).flat();
  if (pids.length === 0) return;
  pids.forEach((p) => signal(p, "SIGTERM"));
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    const left = (await Promise.all(names.map(pidsIn))).flat();
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  (await Promise.all(names.map(pidsIn))).flat().forEach((p) => signal(p, "SIGKILL"));
  // Give the kernel a moment to reap them before the namespaces go.
  const reapEnd = Date.now() + 1000;
  while (Date.now() < reapEnd && (await Promise.all(names.map(pidsIn))).flat().length > 0) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The last `lines` lines of a log file ("" when missing). */
export async function tail(path: string, lines = 30): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Reads lines from a process's stdout pipe until one matches; throws on EOF or timeout. */
export async function readLineMatching(
  stdout: ReadableStream<Uint8Array>,
  opts: { match: (line: string) => boolean; timeoutMs: number; what: string },
): Promise<{ line: string; rest: ReadableStreamDefaultReader<string> }> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + opts.timeoutMs;
  while (true) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left))),
    ]);
    clearTimeout(timer);
    if (chunk === "timeout") break;
    if (chunk.done) throw new Error(`Cannot start ${opts.what}: it exited (${buf.trim()})`);
    buf += chunk.value;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (opts.match(line)) return { line, rest: reader };
    }
  }
  reader.cancel().catch(() => {});
  throw new Error(`Cannot start ${opts.what}: not ready after ${opts.timeoutMs} ms`);
}
