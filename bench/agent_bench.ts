/**
 * Agent benchmark (issue 3), both suites against the bundled agent, every
 * measurement taken from outside it (netlink route monitors in the node
 * namespaces, /proc for memory):
 *
 * 1. Route convergence: 10 node namespaces on one switch namespace (a
 *    bridge, veth uplinks, one /24), an agent in each on a shared file
 *    datastore. A simulated node is written to / deleted from the store;
 *    the time until its route is present / gone on all 10 nodes, ~20 cycles.
 * 2. Scale (issue 14, agent_scale.ts): one agent on the kubernetes datastore
 *    against the test list/watch server holding tiny or kubelet-shaped Nodes
 *    (1,000 / 5,000 / 20,000; its own namespace, reached over a veth): cold
 *    start to all routes, VmHWM, settled VmRSS, CPU and passes per 1,000
 *    status updates; the idle RSS on the file datastore; a soak with churn.
 *
 * The agents run with the flags in `CONVERGENCE_FLAGS` / `COLD_FLAGS`.
 * @module
 */
import { parseArgs } from "node:util";
import { deleteNodeEntry, writeNodeEntry } from "../src/datastore/file/mod.ts";
import { FfiNetlink } from "../src/system/netlink/mod.ts";
import { type NetnsSet, withNetns } from "../tests/helpers/netns.ts";
import { addSwitch, plug } from "../tests/helpers/switch.ts";
import {
  type AgentProcess,
  cpuMsOf,
  dirsOf,
  RouteWatch,
  sleep,
  startAgent,
  tail,
  until,
} from "./agent_bench_util.ts";
import { COLD_FLAGS } from "./agent_cold.ts";
import { DEFAULT_CASES, scaleBench } from "./agent_scale.ts";
import type { NodeShape } from "./agent_apiserver.ts";
import { fmt, stats, table } from "./table.ts";

export { COLD_FLAGS };

/** Options of the agent benchmark. */
export interface AgentBenchOptions {
  /** Node namespaces of the convergence suite (default 10). */
  nodes?: number;
  /** Add/delete cycles (default 20). */
  cycles?: number;
  /** Sizes of the scale suite, e.g. "kubelet:5000,tiny:5000" (default: DEFAULT_CASES). */
  scaleCases?: string;
  /** Cold starts per size, each in a fresh node namespace (default 1). */
  coldRuns?: number;
  /** Soak seconds (default 30; 0 skips). */
  soakSeconds?: number;
  /** Which suites (default both). */
  suites?: readonly ("convergence" | "scale")[];
  /** Heap snapshot breakdown after the scale suite (default true). */
  breakdown?: boolean;
  /** Agent V8 flags instead of the bundle's (experiments). */
  v8Flags?: string[];
}

const PREFIX = "hgab";

/** Agent flags of the convergence suite beyond names and directories. */
export const CONVERGENCE_FLAGS = ["--debounce=0ms", "--log-level=info"];

const TARGET_P99_MS = 50;

/** Runs both suites and returns the printed tables. */
export async function agentBench(opts: AgentBenchOptions = {}): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "hostgate-bench-agent-" });
  const netlink = new FfiNetlink();
  try {
    const suites = opts.suites ?? ["convergence", "scale"];
    const out: string[] = [];
    if (suites.includes("convergence")) {
      out.push(renderConvergence(
        await withNetns(PREFIX, (ns) => convergence(ns, netlink, tmp, opts)),
      ));
    }
    if (suites.includes("scale")) {
      const cases = opts.scaleCases === "none"
        ? []
        : opts.scaleCases
        ? opts.scaleCases.split(",").map((c) => {
          const [shape, nodes, list] = c.split(":");
          return {
            shape: shape as NodeShape,
            nodes: Number(nodes),
            list: list as "paged" | "watch-list" | undefined,
          };
        })
        : DEFAULT_CASES;
      out.push(
        await withNetns(
          PREFIX,
          (ns) =>
            scaleBench(ns, netlink, tmp, {
              cases,
              runs: opts.coldRuns,
              soakSeconds: opts.soakSeconds,
              breakdown: opts.breakdown,
              v8Flags: opts.v8Flags,
            }),
        ),
      );
    }
    return out.join("\n\n");
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

interface ConvergenceResult {
  nodes: number;
  addMs: number[];
  delMs: number[];
  /** The same changes until the route is in / out on the fastest node. */
  addFirstMs: number[];
  delFirstMs: number[];
  /** Agent CPU per change and agent (user + system, 10 ms ticks averaged). */
  cpuMsPerChange: number;
}

async function convergence(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  opts: AgentBenchOptions,
): Promise<ConvergenceResult> {
  const n = opts.nodes ?? 10;
  const sw = await addSwitch(ns);
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const node = await ns.add(`n${i}`);
    nodes.push(node);
    await plug({ sw, netns: node, ifname: "eth0", port: `p${i}`, cidr: `10.254.0.${i + 1}/24` });
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
    const r: ConvergenceResult = {
      nodes: n,
      addMs: [],
      delMs: [],
      addFirstMs: [],
      delFirstMs: [],
      cpuMsPerChange: NaN,
    };
    const cpu = () => Promise.all(agents.map((a) => cpuMsOf(a.child.pid)));
    const cpu0 = await cpu();
    const converge = async (kind: "add" | "delete", change: () => Promise<unknown>) => {
      const t0 = performance.now();
      const seen = Promise.all(watches.map((w) => w.waitFor(dst, kind, t0, 5000)));
      await change();
      const times = (await seen).map((t) => t - t0);
      return { all: Math.max(...times), first: Math.min(...times) };
    };
    for (let c = 0; c < (opts.cycles ?? 20); c++) {
      const add = await converge("add", () => writeNodeEntry(sim, store));
      r.addMs.push(add.all);
      r.addFirstMs.push(add.first);
      await sleep(150 + Math.random() * 100);
      const del = await converge("delete", () => deleteNodeEntry(sim.name, store));
      r.delMs.push(del.all);
      r.delFirstMs.push(del.first);
      await sleep(150 + Math.random() * 100);
    }
    const cpu1 = await cpu();
    const used = cpu1.reduce((sum, c, i) => sum + c - cpu0[i]!, 0);
    r.cpuMsPerChange = used / n / (r.addMs.length + r.delMs.length);
    return r;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(watches.map((w) => w.close()));
  }
}

function renderConvergence(r: ConvergenceResult): string {
  const row = (name: string, s: number[], first: number[]) => {
    const st = stats(s);
    return [
      name,
      String(st.n),
      fmt(st.p50),
      fmt(st.p95),
      fmt(st.p99),
      fmt(st.max),
      fmt(stats(first).p50),
      `${TARGET_P99_MS}`,
      st.p99 <= TARGET_P99_MS ? "yes" : "NO",
    ];
  };
  return [
    `Agent route convergence: ${r.nodes} nodes (file datastore, ${CONVERGENCE_FLAGS.join(" ")}), ` +
    `ms from the datastore write until the route is in / out of the kernel on all ${r.nodes}` +
    ` (first node: on the fastest one); agent CPU ${fmt(r.cpuMsPerChange)} ms per change and node`,
    table(
      [
        "change",
        "n",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "first node p50 ms",
        "target p99 ms",
        "met",
      ],
      [row("node added", r.addMs, r.addFirstMs), row("node deleted", r.delMs, r.delFirstMs)],
    ),
  ].join("\n");
}

if (import.meta.main) {
  // `deno run -A bench/agent_bench.ts [--only=scale] [--cycles=N] [--cold-runs=N]
  //   [--scale=kubelet:5000,tiny:5000] [--soak-seconds=600]`
  const { values: v } = parseArgs({
    options: {
      only: { type: "string" },
      cycles: { type: "string" },
      "cold-runs": { type: "string" },
      scale: { type: "string" },
      "soak-seconds": { type: "string" },
      breakdown: { type: "string" },
      "v8-flags": { type: "string" },
    },
  });
  const num = (x: string | undefined) => x === undefined ? undefined : Number(x);
  console.log(
    await agentBench({
      suites: v.only?.split(",") as AgentBenchOptions["suites"],
      cycles: num(v.cycles),
      coldRuns: num(v["cold-runs"]),
      scaleCases: v.scale,
      soakSeconds: num(v["soak-seconds"]),
      breakdown: v.breakdown !== "false",
      v8Flags: v["v8-flags"] === undefined ? undefined : v["v8-flags"].split(",").filter((f) => f),
    }),
  );
}
