/**
 * Every command but a plain VERSION: builds the real dependencies from what
 * the call's program (src/plugin/program/) brings, reads stdin, runs
 * `dispatch`, writes its stdout.
 * @module
 */
import { createIpam } from "../ipam/mod.ts";
import type { Ipam } from "../ipam/types.ts";
import { RealClock } from "../system/clock.ts";
import { RealExec } from "../system/exec.ts";
import { type FileSystem, SyncFileSystem } from "../system/fs.ts";
import { ExecNft, findNft } from "../system/nft.ts";
import { isOwnNetns } from "../system/netns_identity.ts";
import { createLogger, type Logger } from "../system/log.ts";
import type { Netlink, NetlinkHandle, RouteMonitorOptions } from "../system/netlink/types.ts";
import { type Libc, openLibc } from "../system/netlink/libc.ts";
import type { NftSets as ElementSets } from "../system/nftables/types.ts";
import type { Tc } from "../system/tc.ts";
import type { Conntrack } from "../system/conntrack.ts";
import type { CommandTable, IpamRequest, PluginDeps } from "./deps.ts";
import { dispatch, type PluginOutput } from "./dispatch.ts";
import type { LogLevel } from "./netconf.ts";
import { readStdin, stderrSink, writeStdout } from "./stdio.ts";
import { tracedExec, tracedFs, tracedIpam, tracedNetlink, tracedTc, type Tracer } from "./trace.ts";

/** What a program (src/plugin/program/) brings: its handler, and netlink when it needs the kernel. */
export interface Program {
  commands: CommandTable;
  /** The real netlink (FfiNetlink); absent for a command that never touches the kernel. */
  kernel?: new (libc?: Libc) => Netlink;
  /** The real in-process nftables sets (FfiNftSets), for the guard and hostPorts; absent when not needed. */
  sets?: new (opts: { libc?: Libc }) => ElementSets;
  /**
   * Traffic control in-process (NetlinkTc) for the commands that set or check
   * bandwidth limits, sharing the process's libc; its socket opens only when
   * a pod has limits.
   */
  tc?: (libc: () => Libc) => Tc;
  /**
   * conntrack in-process (NetlinkConntrack) for the commands that flush a
   * hostPort's UDP flows, sharing the process's libc; its socket opens only
   * when a pod has UDP mappings.
   */
  conntrack?: (libc: () => Libc) => Conntrack & { close(): void };
}

/** Opens libc only on first use, so config errors never load FFI; one per process. */
export function lazyLibc(trace: Tracer): () => Libc {
  let libc: Libc | undefined;
  return () => libc ??= trace.span("ffi: dlopen libc", () => openLibc());
}

function lazyNetlink(kernel: NonNullable<Program["kernel"]>, libc: () => Libc): Netlink {
  let real: Netlink | undefined;
  const get = () => real ??= new kernel(libc());
  return {
    open: (netns?: string): NetlinkHandle => get().open(netns),
    monitorRoutes: (opts: RouteMonitorOptions) => get().monitorRoutes(opts),
  };
}

/** The node's element sets, its socket opened on first use. */
function lazySets(sets: NonNullable<Program["sets"]>, libc: () => Libc): ElementSets {
  let real: ElementSets | undefined;
  const get = () => real ??= new sets({ libc: libc() });
  return {
    apply: (ops) => get().apply(ops),
    list: (ref) => get().list(ref),
    get: (ref, key) => get().get(ref, key),
    hasTable: (family, table) => get().hasTable(family, table),
    close: () => real?.close(),
  };
}

/** The netlink of a program without the kernel layer (STATUS). */
const NO_NETLINK: Netlink = {
  open: () => {
    throw new Error("Cannot open netlink: this command's program has no kernel layer");
  },
  monitorRoutes: () => Promise.reject(new Error("Cannot monitor routes in the plugin")),
};

function openLog(
  opts: { file?: string; level?: LogLevel },
  fallback: (line: string) => void,
): Logger {
  const file = opts.file;
  const sink = file
    ? (line: string) => Deno.writeTextFileSync(file, line, { append: true, mode: 0o600 })
    : fallback;
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

/** What one call brings besides its program: its input, where its logs go, its files. */
export interface CallIo {
  env: Record<string, string>;
  stdin: string;
  /** The default log sink (stderr in the plugin process; the answer's log lines in the agent). */
  logSink: (line: string) => void;
  fs: FileSystem;
  /** The process's libc, opened on first use. */
  libc: () => Libc;
}

/**
 * Runs one call with the real dependencies: the plugin process runs one, the
 * agent (src/plugin/remote/) many at once, each with its own sockets.
 */
export async function runCall(trace: Tracer, program: Program, io: CallIo): Promise<PluginOutput> {
  const { env, libc } = io;
  const wanted = env["HOSTGATE_LOG_LEVEL"] ?? "";
  const level = ["debug", "info", "warn", "error"].includes(wanted)
    ? wanted as LogLevel
    : undefined;
  const netlink = program.kernel ? lazyNetlink(program.kernel, libc) : NO_NETLINK;
  const sets = program.sets ? lazySets(program.sets, libc) : undefined;
  const tc = program.tc?.(libc);
  const conntrack = program.conntrack?.(libc);
  const exec = trace.on ? tracedExec(new RealExec(), trace) : new RealExec();
  const deps: PluginDeps = {
    netlink,
    fs: io.fs,
    exec,
    guardNft: new ExecNft({ exec, timeoutMs: 10_000, program: findNft() }),
    // One netfilter socket for the guard's and the hostPorts' elements.
    ...(sets ? { guardSets: sets, portSets: sets } : {}),
    isOwnNetns,
    clock: new RealClock(),
    log: createLogger({ sink: io.logSink, level: level ?? "warn" }),
    ipam: buildIpam,
    openLog: (opts) => openLog(opts, io.logSink),
    commands: program.commands,
    ...(tc ? { tc } : {}),
    ...(conntrack ? { conntrack } : {}),
  };
  try {
    return await trace.span(
      "dispatch",
      () => dispatch({ env, stdin: io.stdin }, trace.on ? traced(deps, trace) : deps),
    );
  } finally {
    tc?.close();
    conntrack?.close();
    sets?.close();
  }
}

/**
 * Runs the plugin process's call and returns its exit code. `stdin`: the
 * config when main.ts has read it already (to find the agent's socket).
 */
export async function run(trace: Tracer, program: Program, stdin?: string): Promise<number> {
  const env = Deno.env.toObject();
  const input = stdin ?? trace.span("read stdin", readStdin);
  const out = await runCall(trace, program, {
    env,
    stdin: input,
    logSink: stderrSink,
    // One task per process: sync file calls skip the async thread pool round trips.
    fs: new SyncFileSystem(),
    libc: lazyLibc(trace),
  });
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
    ...(deps.tc ? { tc: tracedTc(deps.tc, trace) } : {}),
    fs: tracedFs(deps.fs, trace),
    ipam: (req, d) => tracedIpam(trace.span("ipam: parse config", () => ipam(req, d)), trace),
    trace,
  };
}
