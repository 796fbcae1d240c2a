/**
 * The cold-start suite of the agent benchmark (see agent_bench.ts): one agent
 * on the kubernetes datastore against the test list/watch server holding
 * 5,000 Nodes, in a namespace of its own reached over a veth (a node netns
 * cannot reach the root netns loopback). Time from spawning the agent until
 * 4,999 routes are in the kernel (a netlink monitor in the node netns), and
 * the agent's memory from /proc (VmRSS after convergence, VmHWM peak).
 * @module
 */
import type { FfiNetlink } from "../src/system/netlink/mod.ts";
import { HOSTGATE_ROUTE_PROTOCOL } from "../src/system/netlink/types.ts";
import { type NetnsSet, sh } from "../tests/helpers/netns.ts";
import { type ColdServerInput, type ColdServerReady, nodeIpOf } from "./agent_apiserver.ts";
import {
  dirsOf,
  memoryOf,
  RouteWatch,
  sleep,
  startAgent,
  tail,
  until,
} from "./agent_bench_util.ts";
import { fmt, table } from "./table.ts";

/** Agent flags of the cold start beyond names and directories. */
export const COLD_FLAGS = ["--debounce=0ms", "--log-level=info"];

const ROOT = new URL("../", import.meta.url).pathname;
const TARGET_COLD_MS = 1000;
const TARGET_RSS_MIB = 64;

/** Options of the cold-start suite. */
export interface ColdOptions {
  /** Nodes served (default 5000). */
  nodes?: number;
  /** Cold starts, each in a fresh node namespace (default 3). */
  runs?: number;
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

/** Runs the cold starts in `ns` and returns the printed table. */
export async function coldStartBench(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  opts: ColdOptions = {},
): Promise<string> {
  return renderCold(await coldStart(ns, netlink, tmp, opts));
}

async function coldStart(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
  opts: ColdOptions,
): Promise<ColdResult> {
  const count = opts.nodes ?? 5000;
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
    for (let r = 0; r < (opts.runs ?? 3); r++) {
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
  await sh(["ip", "-n", node, "addr", "add", `${nodeIpOf(0)}/16`, "dev", "up0"]);
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
