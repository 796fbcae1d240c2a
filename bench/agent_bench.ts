/**
 * Agent benchmark (issue 3), both suites against the bundled agent, every
 * measurement taken from outside it (netlink route monitors in the node
 * namespaces, /proc for memory):
 *
 * 1. Route convergence: 10 node namespaces on one switch namespace (a
 *    bridge, veth uplinks, one /24), an agent in each on a shared file
 *    datastore. A simulated node is written to / deleted from the store;
 *    the time until its route is present / gone on all 10 nodes, ~20 cycles.
 * 2. Cold start: one agent on the kubernetes datastore against the test
 *    list/watch server holding 5,000 Nodes (its own namespace, reached over a
 *    veth); time from spawning the agent until 4,999 routes are in the
 *    kernel, and the agent's memory (VmRSS after convergence, VmHWM peak).
 *
 * The agents run with the flags in `CONVERGENCE_FLAGS` / `COLD_FLAGS`.
 * @module
 */
import { parseArgs } from "node:util";
import { deleteNodeEntry, writeNodeEntry } from "../src/datastore/file.ts";
import { FfiNetlink } from "../src/system/netlink/mod.ts";
import { HOSTGATE_ROUTE_PROTOCOL } from "../src/system/netlink/types.ts";
import { type NetnsSet, sh, withNetns } from "../tests/helpers/netns.ts";
import type { ColdServerInput, ColdServerReady } from "./agent_apiserver.ts";
import {
  type AgentProcess,
  memoryOf,
  PLUGIN_BIN,
  RouteWatch,
  startAgent,
  tail,
} from "./agent_bench_util.ts";
import { fmt, stats, table } from "./table.ts";

/** Options of the agent benchmark. */
export interface AgentBenchOptions {
  /** Node namespaces of the convergence suite (default 10). */
  nodes?: number;
  /** Add/delete cycles (default 20). */
  cycles?: number;
  /** Nodes served for the cold start (default 5000). */
  coldNodes?: number;
  /** Cold starts, each in a fresh node namespace (default 3). */
  coldRuns?: number;
  /** Which suites (default both). */
  suites?: readonly ("convergence" | "cold")[];
}

const PREFIX = "hgab";
const ROOT = new URL("../", import.meta.url).pathname;

/** Agent flags of the convergence suite beyond names and directories. */
export const CONVERGENCE_FLAGS = ["--debounce=1ms", "--log-level=info"];
/** Agent flags of the cold start beyond names and directories. */
export const COLD_FLAGS = ["--debounce=1ms", "--log-level=info"];

const TARGET_P99_MS = 50;
const TARGET_COLD_MS = 1000;
const TARGET_RSS_MIB = 64;

/** Runs both suites and returns the printed tables. */
export async function agentBench(opts: AgentBenchOptions = {}): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "hostgate-bench-agent-" });
  const netlink = new FfiNetlink();
  try {
    const suites = opts.suites ?? ["convergence", "cold"];
    const out: string[] = [];
    if (suites.includes("convergence")) {
      out.push(renderConvergence(
        await withNetns(PREFIX, (ns) => convergence(ns, netlink, tmp, opts)),
      ));
    }
    if (suites.includes("cold")) {
      out.push(renderCold(await withNetns(PREFIX, (ns) => coldStart(ns, netlink, tmp, opts))));
    }
    return out.join("\n\n");
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function dirsOf(tmp: string, node: string): string[] {
  return [
    `--cni-bin-dir=${tmp}/${node}/bin`,
    `--cni-conf-dir=${tmp}/${node}/conf`,
    `--ipam-dir=${tmp}/${node}/ipam`,
    `--plugin-src=${PLUGIN_BIN}`,
  ];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`Cannot benchmark the agent: ${what}: timeout`);
    await sleep(5);
  }
}

interface ConvergenceResult {
  nodes: number;
  addMs: number[];
  delMs: number[];
}

async function convergence(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  opts: AgentBenchOptions,
): Promise<ConvergenceResult> {
  const n = opts.nodes ?? 10;
  const sw = await ns.add("sw");
  await sh(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"]);
  await sh(["ip", "-n", sw, "link", "set", "br0", "up"]);
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const node = await ns.add(`n${i}`);
    nodes.push(node);
    await sh([
      "ip",
      "-n",
      sw,
      "link",
      "add",
      `p${i}`,
      "type",
      "veth",
      "peer",
      "eth0",
      "netns",
      node,
    ]);
    await sh(["ip", "-n", sw, "link", "set", `p${i}`, "master", "br0", "up"]);
    await sh(["ip", "-n", node, "addr", "add", `10.254.0.${i + 1}/24`, "dev", "eth0"]);
    await sh(["ip", "-n", node, "link", "set", "eth0", "up"]);
  }
  const store = { dir: `${tmp}/store` };
  const watches = nodes.map((node) => new RouteWatch(netlink, ns.path(node)));
  const agents: AgentProcess[] = [];
  try {
    for (const [i, node] of nodes.entries()) {
      agents.push(
        await startAgent(node, [
          "--datastore=file",
          `--store-dir=${store.dir}`,
          `--node-name=n${i}`,
          "--iface=eth0",
          "--cluster-cidr=10.244.0.0/16",
          ...dirsOf(tmp, `n${i}`),
          ...CONVERGENCE_FLAGS,
        ], `${tmp}/n${i}.log`),
      );
    }
    const meshed = () => {
      if (agents.some((a) => a.exited())) throw new Error("Cannot benchmark the agent: one exited");
      return watches.every((w) => w.firstAdd.size >= n - 1);
    };
    await until(`${n} agents meshing`, meshed, 60_000)
      .catch(async (e) => {
        throw new Error(`${(e as Error).message}\n${await tail(agents[0]!.logPath)}`);
      });
    await sleep(500);
    const sim = { name: "sim", podCidrs: ["10.244.200.0/24"], addresses: ["10.254.0.200"] };
    const dst = sim.podCidrs[0]!;
    const addMs: number[] = [];
    const delMs: number[] = [];
    const converge = async (kind: "add" | "delete", change: () => Promise<unknown>) => {
      const t0 = performance.now();
      const seen = Promise.all(watches.map((w) => w.waitFor(dst, kind, t0, 5000)));
      await change();
      return Math.max(...await seen) - t0;
    };
    for (let c = 0; c < (opts.cycles ?? 20); c++) {
      addMs.push(await converge("add", () => writeNodeEntry(sim, store)));
      await sleep(150 + Math.random() * 100);
      delMs.push(await converge("delete", () => deleteNodeEntry(sim.name, store)));
      await sleep(150 + Math.random() * 100);
    }
    return { nodes: n, addMs, delMs };
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(watches.map((w) => w.close()));
  }
}

interface ColdRun {
  firstRouteMs: number;
  convergedMs: number;
  routes: number;
  rssKiB: number;
  hwmKiB: number;
  exact: boolean;
}

interface ColdResult {
  nodes: number;
  runs: ColdRun[];
}

const API_IP = "172.16.255.254";

async function coldStart(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  opts: AgentBenchOptions,
): Promise<ColdResult> {
  const count = opts.coldNodes ?? 5000;
  const api = await ns.add("api");
  const server = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      api,
      Deno.execPath(),
      "run",
      "--allow-all",
      `${ROOT}bench/agent_apiserver.ts`,
      `--hostname=${API_IP}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = server.stdin.getWriter();
  try {
    // The server binds API_IP: it must exist in its netns before it starts listening.
    await sh(["ip", "-n", api, "link", "add", "apilo", "type", "bridge"]);
    await sh(["ip", "-n", api, "addr", "add", `${API_IP}/16`, "dev", "apilo"]);
    await sh(["ip", "-n", api, "link", "set", "apilo", "up"]);
    const input: ColdServerInput = { nodes: count };
    await stdin.write(new TextEncoder().encode(JSON.stringify(input) + "\n"));
    const ready = JSON.parse(await firstLine(server.stdout)) as ColdServerReady;
    const runs: ColdRun[] = [];
    for (let r = 0; r < (opts.coldRuns ?? 3); r++) {
      runs.push(
        await coldRun({ ns, netlink, tmp, api, run: r, count, kubeconfig: ready.kubeconfig }),
      );
    }
    return { nodes: count, runs };
  } finally {
    await stdin.close().catch(() => {});
    const timer = setTimeout(() => server.kill("SIGKILL"), 5000);
    await server.status;
    clearTimeout(timer);
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
  }
  throw new Error("Cannot start the list/watch server: it exited without a ready line");
}

interface ColdRunArgs {
  ns: NetnsSet;
  netlink: FfiNetlink;
  tmp: string;
  api: string;
  run: number;
  count: number;
  kubeconfig: string;
}

async function coldRun(a: ColdRunArgs): Promise<ColdRun> {
  const node = await a.ns.add(`cold${a.run}`);
  // The apiserver's netns and the node share the 172.16.0.0/16 segment over a veth.
  await sh([
    "ip",
    "-n",
    a.api,
    "link",
    "add",
    `c${a.run}`,
    "type",
    "veth",
    "peer",
    "up0",
    "netns",
    node,
  ]);
  await sh(["ip", "-n", a.api, "link", "set", `c${a.run}`, "master", "apilo", "up"]);
  await sh(["ip", "-n", node, "addr", "add", "172.16.0.10/16", "dev", "up0"]);
  await sh(["ip", "-n", node, "link", "set", "up0", "up"]);
  const watch = new RouteWatch(a.netlink, a.ns.path(node));
  const want = a.count - 1;
  const t0 = performance.now();
  const agent = await startAgent(node, [
    "--datastore=kubernetes",
    `--kubeconfig=${a.kubeconfig}`,
    "--node-name=node-0",
    "--iface=up0",
    "--cluster-cidr=10.0.0.0/8",
    ...dirsOf(a.tmp, `cold${a.run}`),
    ...COLD_FLAGS,
  ], `${a.tmp}/cold${a.run}.log`);
  try {
    const handle = a.netlink.open(a.ns.path(node));
    let listed = { n: 0, t: 0 };
    try {
      await until(`${want} routes`, () => {
        if (agent.exited()) throw new Error("Cannot benchmark the agent: it exited");
        if (watch.firstAdd.size >= want) return true;
        if (!watch.overflowed) return false;
        // Events were dropped: count from a listing instead (accurate to the poll).
        const n = handle.listRoutes({ family: 4, protocol: HOSTGATE_ROUTE_PROTOCOL }).length;
        listed = { n, t: performance.now() };
        return n >= want;
      }, 30_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await tail(agent.logPath)}`);
    } finally {
      handle.close();
    }
    const times = [...watch.firstAdd.values()].sort((x, y) => x - y);
    const exact = watch.firstAdd.size >= want;
    const convergedMs = (exact ? times[want - 1]! : listed.t) - t0;
    await sleep(1000);
    const mem = await memoryOf(agent.child.pid);
    return {
      firstRouteMs: (times[0] ?? NaN) - t0,
      convergedMs,
      routes: exact ? watch.firstAdd.size : listed.n,
      rssKiB: mem.rssKiB,
      hwmKiB: mem.hwmKiB,
      exact,
    };
  } finally {
    await agent.stop();
    await watch.close();
  }
}

function renderConvergence(r: ConvergenceResult): string {
  const row = (name: string, s: number[]) => {
    const st = stats(s);
    return [
      name,
      String(st.n),
      fmt(st.p50),
      fmt(st.p95),
      fmt(st.p99),
      fmt(st.max),
      `${TARGET_P99_MS}`,
      st.p99 <= TARGET_P99_MS ? "yes" : "NO",
    ];
  };
  return [
    `Agent route convergence: ${r.nodes} nodes (file datastore, ${CONVERGENCE_FLAGS.join(" ")}), ` +
    `ms from the datastore write until the route is in / out of the kernel on all ${r.nodes}`,
    table(
      ["change", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "target p99 ms", "met"],
      [row("node added", r.addMs), row("node deleted", r.delMs)],
    ),
  ].join("\n");
}

function renderCold(r: ColdResult): string {
  const col = (f: (x: ColdRun) => number, d = 1) => r.runs.map((x) => fmt(f(x), d));
  const mib = (kib: number) => kib / 1024;
  const worst = (f: (x: ColdRun) => number) => Math.max(...r.runs.map(f));
  const met = (v: number, target: number) => v <= target ? "yes" : "NO";
  const rows = [
    ["first route ms", ...col((x) => x.firstRouteMs), "", ""],
    [
      `${r.nodes - 1} routes ms`,
      ...col((x) => x.convergedMs),
      `${TARGET_COLD_MS}`,
      met(worst((x) => x.convergedMs), TARGET_COLD_MS),
    ],
    ["routes seen", ...col((x) => x.routes, 0), "", ""],
    [
      "VmRSS after MiB",
      ...col((x) => mib(x.rssKiB)),
      `${TARGET_RSS_MIB}`,
      met(worst((x) => mib(x.rssKiB)), TARGET_RSS_MIB),
    ],
    [
      "VmHWM peak MiB",
      ...col((x) => mib(x.hwmKiB)),
      `${TARGET_RSS_MIB}`,
      met(worst((x) => mib(x.hwmKiB)), TARGET_RSS_MIB),
    ],
  ];
  const inexact = r.runs.some((x) => !x.exact)
    ? ["(a monitor overflowed: that run's time is from a route listing, +-5 ms)"]
    : [];
  return [
    `Agent cold start: ${r.nodes} Nodes from the list/watch server (kubernetes datastore, ` +
    `${COLD_FLAGS.join(" ")}), ms from spawning the agent, fresh node netns per run`,
    table(
      ["metric", ...r.runs.map((_, i) => `run ${i + 1}`), "target", "met (worst)"],
      rows,
    ),
    ...inexact,
  ].join("\n");
}

if (import.meta.main) {
  // `deno run -A bench/agent_bench.ts [--only=cold] [--cycles=N] [--cold-runs=N] [--cold-nodes=N]`
  const { values: v } = parseArgs({
    options: {
      only: { type: "string" },
      cycles: { type: "string" },
      "cold-runs": { type: "string" },
      "cold-nodes": { type: "string" },
    },
  });
  const num = (x: string | undefined) => x === undefined ? undefined : Number(x);
  console.log(
    await agentBench({
      suites: v.only?.split(",") as AgentBenchOptions["suites"],
      cycles: num(v.cycles),
      coldRuns: num(v["cold-runs"]),
      coldNodes: num(v["cold-nodes"]),
    }),
  );
}
