/**
 * The scale suite of the agent benchmark (issue 14): the agent against the
 * list/watch server with tiny and kubelet-shaped Nodes (1,000, 5,000, 20,000),
 * an idle agent on the file datastore, and a soak at 1,000 kubelet Nodes with
 * churn (status updates and nodes deleted and re-added), RSS sampled from
 * /proc. Printed as one table with the targets.
 * @module
 */
import type { FfiNetlink } from "../src/system/netlink/mod.ts";
import { type NetnsSet, sh } from "../tests/helpers/netns.ts";
import {
  COLD_FLAGS,
  type ColdRun,
  coldRun,
  passesOf,
  routesIn,
  type ScaleCase,
  startBenchNode,
  startBenchServer,
} from "./agent_cold.ts";
import { dirsOf, memoryOf, sleep, startAgent, until } from "./agent_bench_util.ts";
import { fmt, table } from "./table.ts";
import { memoryBreakdown } from "./agent_memory.ts";

/** Options of the scale suite. */
export interface ScaleOptions {
  /** Sizes (default tiny 5,000 and kubelet 1,000, 5,000, 20,000). */
  cases?: ScaleCase[];
  /** Cold starts per size (default 1). */
  runs?: number;
  /** Soak duration in seconds (default 30; the figure is 600); 0 skips it. */
  soakSeconds?: number;
  /** Also print where the memory goes (heap snapshots; default true). */
  breakdown?: boolean;
  /** V8 flags for the agent instead of the bundle's (experiments). */
  v8Flags?: string[];
}

/** Targets of issue 14 by Node count (kubelet-shaped). */
const TARGETS: Record<number, { coldMs: number; hwmMiB: number }> = {
  5000: { coldMs: 1000, hwmMiB: 64 },
  20000: { coldMs: 4000, hwmMiB: 96 },
};
const IDLE_TARGET_MIB = 40;
const SOAK_TARGET_MIB = 5;
const UPDATE_TARGET_MS = 0.2;

/** Default sizes. */
export const DEFAULT_CASES: ScaleCase[] = [
  { shape: "tiny", nodes: 5000 },
  { shape: "kubelet", nodes: 1000 },
  { shape: "kubelet", nodes: 5000 },
  { shape: "kubelet", nodes: 20000 },
];

interface Soak {
  seconds: number;
  startMiB: number;
  endMiB: number;
  peakMiB: number;
  samples: number[];
  changes: number;
  passes: number;
}

const mib = (kib: number) => kib / 1024;

/** Runs every part and returns the printed tables. */
export async function scaleBench(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  opts: ScaleOptions = {},
): Promise<string> {
  const cases = opts.cases ?? DEFAULT_CASES;
  const results: { c: ScaleCase; runs: ColdRun[] }[] = [];
  // A first agent run after `deno task bundle` compiles the chunks and writes V8's code
  // cache (tens of MiB more, once): warm it so every measured run is a restart.
  const warm = await startBenchServer(ns, { nodes: 10, shape: "kubelet" }, "apiwarm");
  try {
    for (const list of ["paged", "watch-list"] as const) {
      await coldRun({ ns, netlink, tmp, server: warm, name: `warm-${list}` }, {
        shape: "kubelet",
        nodes: 10,
        list,
      }, 10);
    }
  } finally {
    await warm.close();
  }
  for (const [k, c] of cases.entries()) {
    const server = await startBenchServer(ns, { nodes: c.nodes, shape: c.shape }, `api${k}`);
    try {
      const runs: ColdRun[] = [];
      for (let r = 0; r < (opts.runs ?? 1); r++) {
        runs.push(
          await coldRun({ ns, netlink, tmp, server, name: `s${k}r${r}`, v8Flags: opts.v8Flags }, c),
        );
      }
      results.push({ c, runs });
    } finally {
      await server.close();
    }
  }
  const idle = await idleFile(ns, tmp, opts.v8Flags);
  const soakSeconds = opts.soakSeconds ?? 30;
  const soak = soakSeconds > 0 ? await soakRun(ns, netlink, tmp, soakSeconds) : undefined;
  const tables = render(results, idle, soak);
  if (opts.breakdown === false) return tables;
  return `${tables}\n\n${await memoryBreakdown(ns, netlink, tmp)}`;
}

/** RSS of an idle agent on the file datastore, alone in a netns (one node, itself). */
async function idleFile(
  ns: NetnsSet,
  tmp: string,
  v8Flags?: string[],
): Promise<{ rssKiB: number; hwmKiB: number }> {
  const node = await ns.add("idle");
  await sh(["ip", "-n", node, "link", "add", "eth0", "type", "veth", "peer", "eth1"]);
  await sh(["ip", "-n", node, "addr", "add", "10.254.0.1/24", "dev", "eth0"]);
  await sh(["ip", "-n", node, "link", "set", "eth0", "up"]);
  await sh(["ip", "-n", node, "link", "set", "eth1", "up"]);
  const agent = await startAgent(
    node,
    [
      "--datastore=file",
      `--store-dir=${tmp}/idle-store`,
      "--node-name=idle",
      "--iface=eth0",
      "--cluster-cidr=10.244.0.0/16",
      ...dirsOf(tmp, "idle"),
      "--log-level=info",
    ],
    `${tmp}/idle.log`,
    { v8Flags },
  );
  try {
    const conflist = `${tmp}/idle/conf`;
    await until("idle agent installed", () => {
      try {
        return [...Deno.readDirSync(conflist)].length > 0;
      } catch {
        return false;
      }
    }, 30_000);
    await sleep(5000);
    return await memoryOf(agent.child.pid);
  } finally {
    await agent.stop();
  }
}

/** 1,000 kubelet Nodes; every second 20 status updates and one node deleted and re-added. */
async function soakRun(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  seconds: number,
): Promise<Soak> {
  const nodes = 1000;
  const server = await startBenchServer(ns, { nodes, shape: "kubelet" }, "soakapi");
  try {
    const n = await startBenchNode({ ns, netlink, tmp, server, name: "soak" });
    try {
      await routesIn(n, { netlink, ns, want: nodes - 1, timeoutMs: 60_000 });
      const pid = n.agent.child.pid;
      const passes0 = await passesOf(n.netns);
      const warm = Math.max(5, Math.round(seconds / 10));
      const samples: number[] = [];
      let start = 0;
      let changes = 0;
      const t0 = performance.now();
      for (let s = 1; s <= seconds + warm; s++) {
        await server.send({ status: 20, readd: 1 });
        changes += 21;
        const wait = t0 + s * 1000 - performance.now();
        if (wait > 0) await sleep(wait);
        if (s === warm) start = (await memoryOf(pid)).rssKiB;
        if (s > warm && (s - warm) % 10 === 0) samples.push((await memoryOf(pid)).rssKiB);
      }
      await sleep(2000);
      const end = await memoryOf(pid);
      return {
        seconds,
        startMiB: mib(start),
        endMiB: mib(end.rssKiB),
        peakMiB: mib(end.hwmKiB),
        samples: samples.map(mib),
        changes,
        passes: (await passesOf(n.netns)) - passes0,
      };
    } finally {
      await n.stop();
    }
  } finally {
    await server.close();
  }
}

function render(
  results: { c: ScaleCase; runs: ColdRun[] }[],
  idle: { rssKiB: number; hwmKiB: number },
  soak: Soak | undefined,
): string {
  const met = (ok: boolean) => ok ? "yes" : "NO";
  const rows = results.map(({ c, runs }) => {
    const worst = (f: (r: ColdRun) => number) => Math.max(...runs.map(f));
    const t = c.shape === "kubelet" ? TARGETS[c.nodes] : undefined;
    const cold = worst((r) => r.convergedMs);
    const hwm = worst((r) => mib(r.hwmKiB));
    const cpu = worst((r) => r.cpuMsPer1000);
    const passes = worst((r) => r.passes);
    const ok = (!t || (cold <= t.coldMs && hwm <= t.hwmMiB)) &&
      cpu / 1000 <= UPDATE_TARGET_MS && passes === 0;
    return [
      `${c.nodes}`,
      c.shape,
      c.list ?? "paged",
      runs.map((r) => fmt(r.firstRouteMs, 0)).join(" / "),
      runs.map((r) => fmt(r.convergedMs, 0)).join(" / "),
      t ? `${t.coldMs}` : "",
      runs.map((r) => fmt(mib(r.hwmKiB))).join(" / "),
      t ? `${t.hwmMiB}` : "",
      runs.map((r) => fmt(mib(r.rssKiB))).join(" / "),
      fmt(cpu, 0),
      fmt(cpu / 1000, 3),
      `${passes}`,
      met(ok),
    ];
  });
  const out = [
    `Agent at scale: kubernetes datastore (${COLD_FLAGS.join(" ")}), list/watch server in its ` +
    "own netns; cold start = spawn to all N-1 routes in the kernel; peak = VmHWM; steady = VmRSS " +
    "2 s after; then 1,000 kubelet status updates (heartbeats, images): agent CPU and reconcile passes",
    table(
      [
        "nodes",
        "shape",
        "list",
        "first route ms",
        "cold start ms",
        "target",
        "peak MiB",
        "target",
        "steady MiB",
        "CPU ms/1000 upd",
        "ms/upd",
        "passes",
        "met",
      ],
      rows,
    ),
    "",
    table(["measure", "value", "target", "met"], [
      [
        "idle, file datastore, VmRSS MiB (peak)",
        `${fmt(mib(idle.rssKiB))} (${fmt(mib(idle.hwmKiB))})`,
        `${IDLE_TARGET_MIB}`,
        met(mib(idle.rssKiB) <= IDLE_TARGET_MIB),
      ],
      ...(soak
        ? [[
          `soak ${soak.seconds} s, 1,000 kubelet peers, ${soak.changes} changes, ` +
          `${soak.passes} passes: RSS ${fmt(soak.startMiB)} -> ${fmt(soak.endMiB)} MiB ` +
          `(samples ${soak.samples.map((x) => fmt(x)).join(" ")}; peak ${fmt(soak.peakMiB)})`,
          `${fmt(soak.endMiB - soak.startMiB)} MiB growth`,
          `${SOAK_TARGET_MIB}`,
          met(soak.endMiB - soak.startMiB <= SOAK_TARGET_MIB),
        ]]
        : []),
    ]),
  ];
  return out.join("\n");
}
