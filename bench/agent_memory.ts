/**
 * Where the agent's memory goes (issue 14): the Deno floor (an empty
 * program), the floors with what the agent may load on top (client-node's
 * KubeConfig: only for a kubeconfig user with an exec/auth-provider plugin
 * now; `yaml`, which pulls in Node's CommonJS shim; node:util parseArgs),
 * then heap snapshots
 * of the bundled agent idle on the file datastore and settled with 5,000
 * kubelet-shaped Nodes: V8 heap by kind (strings, objects, arrays, code,
 * closures) and what lies outside the V8 heap (runtime, code space, malloc).
 * @module
 */
import type { FfiNetlink } from "../src/system/netlink/mod.ts";
import { type NetnsSet, sh } from "../tests/helpers/netns.ts";
import { ENTRY_POINTS, v8FlagArgs } from "../src/build/targets.ts";
import { routesIn, startBenchNode, startBenchServer } from "./agent_cold.ts";
import { dirsOf, sleep, startAgent, until } from "./agent_bench_util.ts";
import type { HeapSummary } from "./agent_heap.ts";
import { fmt, table } from "./table.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const INSPECT = "127.0.0.1:9229";
const AGENT_FLAGS = v8FlagArgs(ENTRY_POINTS.find((t) => t.name === "hostgate-agent")!);

const PRINT_RSS =
  `console.log(/VmRSS:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);`;

/** VmRSS (KiB) of a deno program `js`, second run (the code cache is warm then). */
async function floorOf(js: string): Promise<number> {
  let kib = NaN;
  for (let i = 0; i < 2; i++) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--no-lock", "-A", ...AGENT_FLAGS, js],
      stdout: "piped",
      stderr: "null",
    }).output();
    kib = Number(new TextDecoder().decode(out.stdout).trim().split("\n").pop());
  }
  return kib;
}

/** RSS floors (KiB): an empty program and one loading each module the agent may load. */
interface Floors {
  empty: number;
  clientNode: number;
  yaml: number;
  parseArgs: number;
}

async function floors(tmp: string): Promise<Floors> {
  await Deno.writeTextFile(`${tmp}/empty.js`, PRINT_RSS);
  const probes: Record<string, string> = {
    kc:
      `import { KubeConfig } from "@kubernetes/client-node";\nif (!new KubeConfig()) Deno.exit(1);`,
    yaml: `import { parseAllDocuments } from "yaml";\nparseAllDocuments("a: 1");`,
    args: `import { parseArgs } from "node:util";\nparseArgs({ args: [], options: {} });`,
  };
  for (const [name, code] of Object.entries(probes)) {
    await Deno.writeTextFile(`${tmp}/${name}.ts`, `${code}\n${PRINT_RSS}\n`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--config",
        `${ROOT}deno.json`,
        "--platform",
        "deno",
        "--minify",
        "--output",
        `${tmp}/${name}.js`,
        `${tmp}/${name}.ts`,
      ],
    }).output();
    if (!out.success) throw new Error(`Cannot bundle the ${name} floor probe`);
  }
  return {
    empty: await floorOf(`${tmp}/empty.js`),
    clientNode: await floorOf(`${tmp}/kc.js`),
    yaml: await floorOf(`${tmp}/yaml.js`),
    parseArgs: await floorOf(`${tmp}/args.js`),
  };
}

/** VmRSS (KiB) by kind of mapping, from /proc/<pid>/smaps. */
export interface RssByMapping {
  /** The deno executable's pages (file-backed: shared, clean, reclaimable). */
  executable: number;
  /** 256 KiB anonymous mappings: V8 heap pages (live, garbage and pooled). */
  v8Pages: number;
  /** The malloc heap ([heap]) and every other anonymous mapping. */
  otherAnon: number;
  /** Other files (libc, caches). */
  otherFiles: number;
}

/** Where a process's resident pages are, by mapping. */
export function rssByMapping(pid: number): RssByMapping {
  const out: RssByMapping = { executable: 0, v8Pages: 0, otherAnon: 0, otherFiles: 0 };
  let kind: keyof RssByMapping = "otherAnon";
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const bytes = parseInt(head[2]!, 16) - parseInt(head[1]!, 16);
      const path = head[3]!;
      kind = path.endsWith("/deno")
        ? "executable"
        : path.startsWith("/")
        ? "otherFiles"
        : path === "" && bytes === 262144
        ? "v8Pages"
        : "otherAnon";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]);
  }
  return out;
}

/** Heap summary of the agent in `netns` (pid `pid`), taken from inside that netns. */
async function heapOf(netns: string, pid: number): Promise<HeapSummary> {
  const text = await sh([
    "ip",
    "netns",
    "exec",
    netns,
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}bench/agent_heap.ts`,
    `--inspect=${INSPECT}`,
    `--pid=${pid}`,
  ]);
  return JSON.parse(text.trim().split("\n").pop()!);
}

/** Runs the breakdown and returns the printed table. */
export async function memoryBreakdown(
  ns: NetnsSet,
  netlink: FfiNetlink,
  tmp: string,
): Promise<string> {
  const f = await floors(tmp);
  // Idle on the file datastore.
  const node = await ns.add("heapfile");
  await sh(["ip", "-n", node, "link", "add", "eth0", "type", "veth", "peer", "eth1"]);
  await sh(["ip", "-n", node, "addr", "add", "10.254.0.1/24", "dev", "eth0"]);
  await sh(["ip", "-n", node, "link", "set", "eth0", "up"]);
  await sh(["ip", "-n", node, "link", "set", "lo", "up"]);
  const agent = await startAgent(
    node,
    [
      "--datastore=file",
      `--store-dir=${tmp}/heap-store`,
      "--node-name=idle",
      "--iface=eth0",
      "--cluster-cidr=10.244.0.0/16",
      ...dirsOf(tmp, "heapfile"),
    ],
    `${tmp}/heapfile.log`,
    { inspect: INSPECT },
  );
  let idle: HeapSummary;
  let idleMaps: RssByMapping;
  try {
    await until("idle agent installed", () => {
      try {
        return [...Deno.readDirSync(`${tmp}/heapfile/conf`)].length > 0;
      } catch {
        return false;
      }
    }, 30_000);
    await sleep(3000);
    idleMaps = rssByMapping(agent.child.pid);
    idle = await heapOf(node, agent.child.pid);
  } finally {
    await agent.stop();
  }
  // 5,000 kubelet Nodes.
  const nodes = 5000;
  const server = await startBenchServer(ns, { nodes, shape: "kubelet" }, "heapapi");
  let busy: HeapSummary;
  let busyMaps: RssByMapping;
  try {
    const n = await startBenchNode({ ns, netlink, tmp, server, name: "heapk8s", inspect: INSPECT });
    try {
      await routesIn(n, { netlink, ns, want: nodes - 1, timeoutMs: 120_000 });
      await sleep(2000);
      busyMaps = rssByMapping(n.agent.child.pid);
      busy = await heapOf(n.netns, n.agent.child.pid);
    } finally {
      await n.stop();
    }
  } finally {
    await server.close();
  }
  const rows: [string, HeapSummary][] = [["agent idle, file datastore", idle], [
    `agent, ${nodes} kubelet Nodes`,
    busy,
  ]];
  return `${render(f, rows)}\n${renderMaps([[rows[0]![0], idleMaps!], [rows[1]![0], busyMaps!]])}`;
}

function render(f: Floors, rows: [string, HeapSummary][]): string {
  const m = (bytes: number) => fmt(bytes / 1048576);
  const kinds = (h: HeapSummary, ...names: string[]) =>
    names.reduce((sum, n) => sum + (h.byType[n] ?? 0), 0);
  const known = [
    "string",
    "concatenated string",
    "sliced string",
    "object",
    "array",
    "code",
    "closure",
  ];
  return [
    "Where the agent's memory goes (VmRSS; V8 heap from a heap snapshot after a full GC, " +
    `agent under deno --inspect, ${AGENT_FLAGS.join(" ")}): floor of an empty deno program ` +
    `${fmt(f.empty / 1024)} MiB; bundled with only: client-node's KubeConfig (exec/auth-provider ` +
    `fallback) ${fmt(f.clientNode / 1024)} MiB, yaml (Node's CommonJS shim) ` +
    `${fmt(f.yaml / 1024)} MiB, node:util parseArgs ${fmt(f.parseArgs / 1024)} MiB`,
    table(
      [
        "process",
        "VmRSS MiB",
        "heap committed / used MiB",
        "external MiB",
        "VmRSS after full GC",
        "live heap MiB",
        "strings",
        "objects",
        "arrays",
        "code",
        "closures",
        "other heap",
        "outside V8 heap (after GC)",
      ],
      rows.map(([name, h]) => [
        name,
        fmt(h.rssKiB / 1024),
        `${m(h.before.heapTotal)} / ${m(h.before.heapUsed)}`,
        m(h.before.external),
        fmt(h.rssAfterGcKiB / 1024),
        m(h.heapBytes),
        m(kinds(h, "string", "concatenated string", "sliced string")),
        m(kinds(h, "object")),
        m(kinds(h, "array")),
        m(kinds(h, "code")),
        m(kinds(h, "closure")),
        m(h.heapBytes - kinds(h, ...known)),
        fmt(h.rssAfterGcKiB / 1024 - h.heapBytes / 1048576),
      ]),
    ),
    ...rows.map(([name, h]) =>
      `${name}: biggest objects ${
        h.topObjects.slice(0, 8).map(([c, b]) => `${c || "(anon)"} ${m(b)}`).join(", ")
      }`
    ),
  ].join("\n");
}

function renderMaps(rows: [string, RssByMapping][]): string {
  const m = (kib: number) => fmt(kib / 1024);
  return [
    "VmRSS by mapping (/proc/<pid>/smaps, MiB, before the heap snapshot):",
    table(
      [
        "process",
        "deno executable (file-backed)",
        "V8 heap pages",
        "malloc + other anon",
        "other files",
      ],
      rows.map(([name, r]) => [
        name,
        m(r.executable),
        m(r.v8Pages),
        m(r.otherAnon),
        m(r.otherFiles),
      ]),
    ),
  ].join("\n");
}
