/**
 * The Kubernetes suites of the agent benchmark (see agent_bench.ts): one
 * agent on the kubernetes datastore against the test list/watch server (its
 * own namespace, reached over a veth: a node netns cannot reach the root
 * netns loopback), with tiny or kubelet-shaped Nodes (~10 KB). Per size:
 * time from spawning the agent until all N-1 routes are in the kernel (a
 * netlink monitor in the node netns), VmHWM peak and VmRSS when settled
 * (/proc), then 1,000 kubelet status updates nobody reads: agent CPU per
 * 1,000 and reconcile passes (the agent's /metrics). Everything measured from
 * outside the agent. The soak (agent_soak.ts) reuses the server and agent
 * helpers here.
 * @module
 */
import type { FfiNetlink } from "../src/system/netlink/mod.ts";
import { HOSTGATE_ROUTE_PROTOCOL } from "../src/system/netlink/types.ts";
import { jsonLines } from "../src/datastore/kubernetes/ndjson.ts";
import { type NetnsSet, sh } from "../tests/helpers/netns.ts";
import {
  type ColdServerInput,
  type ColdServerReady,
  nodeIpOf,
  type NodeShape,
  type ServerCommand,
} from "./agent_apiserver.ts";
import {
  type AgentProcess,
  cpuMsOf,
  dirsOf,
  memoryOf,
  RouteWatch,
  sleep,
  startAgent,
  tail,
  until,
} from "./agent_bench_util.ts";

/** Agent flags of the Kubernetes suites beyond names and directories. */
export const COLD_FLAGS = ["--debounce=0ms", "--log-level=info", "--resync-interval=1h"];

const ROOT = new URL("../", import.meta.url).pathname;
const API_IP = "172.16.255.254";
const HEALTH = "127.0.0.1:9099";

/** One size of the scale suite. */
export interface ScaleCase {
  shape: NodeShape;
  nodes: number;
  /** The agent's --kube-list (default paged). */
  list?: "paged" | "watch-list";
}

/** What one cold start measured. */
export interface ColdRun {
  firstRouteMs: number;
  convergedMs: number;
  routes: number;
  exact: boolean;
  hwmKiB: number;
  /** VmRSS 2 s after convergence. */
  rssKiB: number;
  /** Agent CPU ms per 1,000 status updates nobody reads. */
  cpuMsPer1000: number;
  /** Reconcile passes during those updates. */
  passes: number;
  updates: number;
}

/** A running list/watch server child in its own netns. */
export interface BenchServer {
  api: string;
  kubeconfig: string;
  /** Applies a command; resolves once the server has applied it. */
  send(cmd: ServerCommand): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server child with `nodes` Nodes of `shape` in a new netns of `ns`. */
export async function startBenchServer(
  ns: NetnsSet,
  input: ColdServerInput,
  name = "api",
): Promise<BenchServer> {
  const api = await ns.add(name);
  // The server binds API_IP: it must exist in its netns before it starts listening.
  await sh(["ip", "-n", api, "link", "add", "apilo", "type", "bridge"]);
  await sh(["ip", "-n", api, "addr", "add", `${API_IP}/16`, "dev", "apilo"]);
  await sh(["ip", "-n", api, "link", "set", "apilo", "up"]);
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      api,
      Deno.execPath(),
      "run",
      "--allow-all",
      "--v8-flags=--max-old-space-size=8192",
      `${ROOT}bench/agent_apiserver.ts`,
      `--hostname=${API_IP}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const lines = jsonLines(child.stdout);
  const write = (v: unknown) => stdin.write(new TextEncoder().encode(JSON.stringify(v) + "\n"));
  const read = async () => {
    const r = await lines.next();
    if (r.done) throw new Error("Cannot drive the list/watch server: it exited");
    return r.value;
  };
  const close = async () => {
    await stdin.close().catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.status;
    clearTimeout(timer);
    await lines.return(undefined).catch(() => {});
  };
  try {
    await write(input);
    const ready = await read() as ColdServerReady;
    return {
      api,
      kubeconfig: ready.kubeconfig,
      send: async (cmd) => {
        await write(cmd);
        await read();
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A node netns wired to the server's segment, and its agent. */
export interface BenchNode {
  netns: string;
  agent: AgentProcess;
  watch: RouteWatch;
  t0: number;
  stop(): Promise<void>;
}

/** Makes node netns `name` on the server's segment and starts an agent in it. */
export async function startBenchNode(
  a: {
    ns: NetnsSet;
    netlink: FfiNetlink;
    tmp: string;
    server: BenchServer;
    name: string;
    inspect?: string;
    list?: "paged" | "watch-list";
    /** V8 flags instead of the bundle's (runs the bundle through deno, for experiments). */
    v8Flags?: string[];
    /** Another agent bundle (a before/after comparison). */
    bin?: string;
  },
): Promise<BenchNode> {
  const node = await a.ns.add(a.name);
  const peer = `v${a.name}`.slice(0, 15);
  await sh([
    "ip",
    "-n",
    a.server.api,
    "link",
    "add",
    peer,
    "type",
    "veth",
    "peer",
    "up0",
    "netns",
    node,
  ]);
  await sh(["ip", "-n", a.server.api, "link", "set", peer, "master", "apilo", "up"]);
  await sh(["ip", "-n", node, "addr", "add", `${nodeIpOf(0)}/16`, "dev", "up0"]);
  await sh(["ip", "-n", node, "link", "set", "up0", "up"]);
  await sh(["ip", "-n", node, "link", "set", "lo", "up"]);
  const watch = new RouteWatch(a.netlink, a.ns.path(node));
  const t0 = performance.now();
  const agent = await startAgent(
    node,
    [
      "--datastore=kubernetes",
      `--kubeconfig=${a.server.kubeconfig}`,
      "--node-name=node-0",
      "--iface=up0",
      "--cluster-cidr=10.0.0.0/8",
      `--health-addr=${HEALTH}`,
      `--kube-list=${a.list ?? "paged"}`,
      ...dirsOf(a.tmp, a.name),
      ...COLD_FLAGS,
    ],
    `${a.tmp}/${a.name}.log`,
    { inspect: a.inspect, v8Flags: a.v8Flags, bin: a.bin },
  );
  return {
    netns: node,
    agent,
    watch,
    t0,
    stop: async () => {
      await agent.stop();
      await watch.close();
    },
  };
}

/** The agent's reconcile pass counter, read from its /metrics inside its netns. */
export async function passesOf(netns: string): Promise<number> {
  const text = await sh(["ip", "netns", "exec", netns, "curl", "-s", `http://${HEALTH}/metrics`]);
  const m = /^hostgate_reconciles_total(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
  if (!m) throw new Error("Cannot read the agent's reconcile counter from /metrics");
  return Number(m[1]);
}

/** Waits until `n` hostgate routes are in the node's kernel; returns when the n-th came. */
export async function routesIn(
  n: BenchNode,
  a: { netlink: FfiNetlink; ns: NetnsSet; want: number; timeoutMs: number },
): Promise<{ firstMs: number; allMs: number; routes: number; exact: boolean }> {
  const handle = a.netlink.open(a.ns.path(n.netns));
  let listed = { n: 0, t: 0 };
  try {
    await until(`${a.want} routes`, () => {
      if (n.agent.exited()) throw new Error("Cannot benchmark the agent: it exited");
      if (n.watch.firstAdd.size >= a.want) return true;
      if (!n.watch.overflowed) return false;
      // Events were dropped: count from a listing instead (accurate to the poll).
      const count = handle.listRoutes({ family: 4, protocol: HOSTGATE_ROUTE_PROTOCOL }).length;
      listed = { n: count, t: performance.now() };
      return count >= a.want;
    }, a.timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await tail(n.agent.logPath)}`);
  } finally {
    handle.close();
  }
  const times = [...n.watch.firstAdd.values()].sort((x, y) => x - y);
  const exact = n.watch.firstAdd.size >= a.want;
  return {
    firstMs: (times[0] ?? NaN) - n.t0,
    allMs: (exact ? times[a.want - 1]! : listed.t) - n.t0,
    routes: exact ? n.watch.firstAdd.size : listed.n,
    exact,
  };
}

/** One cold start plus the status-update measurement, in a fresh node netns. */
export async function coldRun(
  a: {
    ns: NetnsSet;
    netlink: FfiNetlink;
    tmp: string;
    server: BenchServer;
    name: string;
    v8Flags?: string[];
  },
  c: ScaleCase,
  updates = 1000,
): Promise<ColdRun> {
  const n = await startBenchNode({ ...a, list: c.list });
  try {
    const r = await routesIn(n, { ...a, want: c.nodes - 1, timeoutMs: 120_000 });
    await sleep(2000);
    const mem = await memoryOf(n.agent.child.pid);
    const pid = n.agent.child.pid;
    const passes0 = await passesOf(n.netns);
    const cpu0 = await cpuMsOf(pid);
    await a.server.send({ status: updates });
    await sleep(1500); // the last events reach the agent and are handled
    const cpu1 = await cpuMsOf(pid);
    const passes1 = await passesOf(n.netns);
    return {
      firstRouteMs: r.firstMs,
      convergedMs: r.allMs,
      routes: r.routes,
      exact: r.exact,
      hwmKiB: mem.hwmKiB,
      rssKiB: mem.rssKiB,
      cpuMsPer1000: (cpu1 - cpu0) * 1000 / updates,
      passes: passes1 - passes0,
      updates,
    };
  } finally {
    await n.stop();
  }
}
