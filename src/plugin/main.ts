/**
 * Entry point of the `hostgate` CNI plugin binary (dist/bundle/hostgate).
 * The only place with process I/O: reads the environment and stdin, builds
 * the real dependencies, runs `dispatch`, writes its stdout, exits with its
 * code. Logs go to stderr (or the config's logFile), never to stdout.
 * @module
 */
// First import: its top level is the first line of the program that runs.
import {
  MODULE_START,
  openTracer,
  tracedFs,
  tracedIpam,
  tracedNetlink,
  type Tracer,
} from "./trace.ts";
import { createIpam } from "../ipam/mod.ts";
import { RealClock } from "../system/clock.ts";
import { RealExec } from "../system/exec.ts";
import { SyncFileSystem } from "../system/fs.ts";
import { FfiNetlink } from "../system/netlink/ffi_netlink.ts";
import type { Netlink, NetlinkHandle, RouteMonitorOptions } from "../system/netlink/types.ts";
import type { Ipam } from "../ipam/types.ts";
import type { IpamRequest, PluginDeps } from "./deps.ts";
import { dispatch } from "./dispatch.ts";
import { createLogger, type Logger } from "../system/log.ts";
import type { LogLevel } from "./netconf.ts";

/** Opens libc only on first use, so VERSION and config errors never load FFI. */
function lazyNetlink(trace: Tracer): Netlink {
  let real: Netlink | undefined;
  const get = () => real ??= trace.span("ffi: dlopen libc", () => new FfiNetlink());
  return {
    open: (netns?: string): NetlinkHandle => get().open(netns),
    monitorRoutes: (opts: RouteMonitorOptions) => get().monitorRoutes(opts),
  };
}

function stderrSink(line: string): void {
  const bytes = new TextEncoder().encode(line);
  let off = 0;
  while (off < bytes.length) off += Deno.stderr.writeSync(bytes.subarray(off));
}

function openLog(opts: { file?: string; level?: LogLevel }): Logger {
  const file = opts.file;
  const sink = file
    ? (line: string) => Deno.writeTextFileSync(file, line, { append: true, mode: 0o600 })
    : stderrSink;
  return createLogger({ sink, level: opts.level ?? "warn" });
}

function buildIpam(req: IpamRequest, deps: PluginDeps): Ipam {
  const env: {
    containerId?: string;
    netns?: string;
    ifname?: string;
    args?: string;
    path: string[];
  } = {
    path: req.env.path,
  };
  if (req.env.containerId) env.containerId = req.env.containerId;
  if (req.env.netns) env.netns = req.env.netns;
  if (req.env.ifname) env.ifname = req.env.ifname;
  const args = req.rawEnv["CNI_ARGS"];
  if (args) env.args = args;
  return createIpam({
    config: req.conf.raw,
    netName: req.conf.name,
    env,
    fs: deps.fs,
    exec: deps.exec,
    cniVersion: req.conf.cniVersion,
  });
}

/** Reads stdin to its end synchronously: cheaper than a stream for one small config. */
function readStdin(): string {
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
function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

async function main(): Promise<number> {
  // Leave the module's top-level frame before any work: V8 captures a stack
  // for every Error (a "not found" from the kernel or the file system is a
  // normal answer here), and a frame without source positions is re-parsed to
  // get them. With the top-level frame on the stack that is the whole bundle,
  // ~1 ms of CPU; after one await the stack holds only small functions.
  await Promise.resolve();
  const trace = openTracer(Deno.env.get("HOSTGATE_TRACE"));
  trace.add("evaluate modules", MODULE_START, performance.now());
  const wanted = Deno.env.get("HOSTGATE_LOG_LEVEL") ?? "";
  const level = ["debug", "info", "warn", "error"].includes(wanted)
    ? wanted as LogLevel
    : undefined;
  const deps: PluginDeps = {
    netlink: lazyNetlink(trace),
    // One task per process: sync file calls skip the async thread pool round trips.
    fs: new SyncFileSystem(),
    exec: new RealExec(),
    clock: new RealClock(),
    log: createLogger({ sink: stderrSink, level: level ?? "warn" }),
    ipam: buildIpam,
    openLog,
  };
  const stdin = trace.span("read stdin and environment", readStdin);
  const env = Deno.env.toObject();
  const out = await trace.span(
    "dispatch",
    () => dispatch({ env, stdin }, trace.on ? traced(deps, trace) : deps),
  );
  trace.span("write result", () => writeStdout(out.stdout));
  trace.flush({ cmd: env["CNI_COMMAND"] ?? "" });
  return out.exitCode;
}

/** The dependencies with every kernel, file and IPAM call timed (HOSTGATE_TRACE set). */
function traced(deps: PluginDeps, trace: Tracer): PluginDeps {
  const ipam = deps.ipam;
  return {
    ...deps,
    netlink: tracedNetlink(deps.netlink, trace),
    fs: tracedFs(deps.fs, trace),
    ipam: (req, d) => tracedIpam(trace.span("ipam: parse config", () => ipam(req, d)), trace),
  };
}

// The process ends by itself, not with Deno.exit: Deno stores the V8 code
// cache of a script it has just compiled in the background, and Deno.exit
// cuts that short (measured: VERSION, STATUS and CHECK, whose calls are all
// synchronous, never stored it, so every call compiled the whole bundle).
// Nothing of the plugin's outlives main(): no timer, no pending op.
if (import.meta.main) Deno.exitCode = await main();
