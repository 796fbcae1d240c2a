/**
 * Routed vs bridge data plane (issue 13), anti-spoofing on and off, side by
 * side in one two-node cluster (tests/cluster/): four sets of pods, one per
 * configuration, made through conflists that differ only in `mode` and
 * `antiSpoofing` (bridge and routed pods share a node: the /32 host routes
 * of the routed ones are more specific than the bridge's subnet). Each round
 * measures every configuration back to back, so load from other processes
 * hits them alike: small-packet UDP packets/s across nodes and on one node
 * (iperf3, 64-byte datagrams, unlimited rate, delivered packets), TCP
 * request/response (bench/rr.py, 1 byte each way), bulk TCP with 1 and 4
 * streams (iperf3). The table shows the median of the rounds and the spread.
 * Targets: routed >= 1.15x bridge UDP packets/s across nodes; anti-spoofing
 * costs <= 3% packets/s.
 * @module
 */
import { Cluster } from "../tests/cluster/cluster.ts";
import { tail } from "../tests/cluster/procs.ts";
import { until } from "../tests/helpers/until.ts";
import { addPod, type PodAttachment, readConflist } from "../tests/cluster/runtime.ts";
import { run } from "../tests/helpers/netns.ts";
import { fmt, table } from "./table.ts";

/** Options of the routed benchmark. */
export interface RoutedBenchOptions {
  /** Seconds per measurement (default 1). */
  seconds?: number;
  /** Rounds (default 5). */
  rounds?: number;
  /** Namespace prefix (default "hgrb"). */
  prefix?: string;
}

interface Config {
  key: string;
  mode: "routed" | "bridge";
  antiSpoofing: boolean;
}

const CONFIGS: Config[] = [
  { key: "routed+guard", mode: "routed", antiSpoofing: true },
  { key: "routed", mode: "routed", antiSpoofing: false },
  { key: "bridge+guard", mode: "bridge", antiSpoofing: true },
  { key: "bridge", mode: "bridge", antiSpoofing: false },
];

const IPERF = 5201;
const RR = 7000;
const RR_PY = new URL("./rr.py", import.meta.url).pathname;

interface Pods {
  client: PodAttachment & { netns: string };
  same: PodAttachment & { netns: string };
  remote: PodAttachment & { netns: string };
}

type Metric = "udpCross" | "udpSame" | "rrUs" | "tcp1" | "tcp4";

async function iperfJson(netns: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await run(["ip", "netns", "exec", netns, "iperf3", "-p", String(IPERF), "-J", ...args]);
  const doc = JSON.parse(r.stdout || "{}") as Record<string, unknown>;
  if (r.code !== 0 || !doc["end"]) {
    throw new Error(`Cannot run iperf3 ${args.join(" ")}: ${doc["error"] ?? r.stderr.trim()}`);
  }
  return doc["end"] as Record<string, unknown>;
}

async function udpPps(from: string, to: string, seconds: number): Promise<number> {
  const end = await iperfJson(from, ["-c", to, "-u", "-l", "64", "-b", "0", "-t", String(seconds)]);
  const sum = end["sum"] as { packets: number; lost_packets: number; seconds: number };
  return (sum.packets - sum.lost_packets) / sum.seconds;
}

async function tcpGbps(from: string, to: string, seconds: number, streams: number) {
  const end = await iperfJson(from, ["-c", to, "-t", String(seconds), "-P", String(streams)]);
  return (end["sum_received"] as { bits_per_second: number }).bits_per_second / 1e9;
}

async function rrUs(from: string, to: string, seconds: number): Promise<number> {
  const r = await run([
    "ip",
    "netns",
    "exec",
    from,
    "python3",
    RR_PY,
    "run",
    to,
    String(RR),
    String(seconds),
  ]);
  if (r.code !== 0) throw new Error(`Cannot run rr.py to ${to}: ${r.stderr.trim()}`);
  return Number(r.stdout.trim().split(" ")[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Writes a conflist for `cfg` beside the agent's and returns its directory. */
async function confDirFor(c: Cluster, node: string, cfg: Config): Promise<string> {
  const base = await readConflist(c.dirs(node).conf);
  const dir = `${c.dir}/conf-${cfg.key.replace("+", "-")}-${node}`;
  await Deno.mkdir(dir, { recursive: true });
  const plugins = base.plugins.map((p) =>
    p["type"] === "hostgate"
      ? { ...p, mode: cfg.mode, antiSpoofing: cfg.antiSpoofing, bridge: "hostgate0" }
      : p
  );
  await Deno.writeTextFile(
    `${dir}/10-bench.conflist`,
    JSON.stringify({ ...base, plugins }, null, 2),
  );
  return dir;
}

async function podsFor(c: Cluster, cfg: Config, n: number): Promise<Pods> {
  const make = async (node: string, name: string) => {
    const netns = await c.set.add(`${node}-${n}${name}`);
    const att = await addPod({
      node: {
        netns: c.node(node).netns,
        confDir: await confDirFor(c, node, cfg),
        binDir: c.dirs(node).bin,
      },
      containerId: `${netns}-bench`,
      netnsPath: c.set.path(netns),
      podName: `${node}-${n}${name}`,
    });
    return { ...att, netns };
  };
  return {
    client: await make("n1", "c"),
    same: await make("n1", "s"),
    remote: await make("n2", "r"),
  };
}

/** Builds the cluster and pods, measures every configuration per round, returns the table. */
export async function routedBench(opts: RoutedBenchOptions = {}): Promise<string> {
  const seconds = opts.seconds ?? 1;
  const rounds = opts.rounds ?? 5;
  const c = await Cluster.start({ prefix: opts.prefix ?? "hgrb", nodes: 2, datastore: "file" });
  try {
    await Promise.all(["n1", "n2"].map((n) => c.join(n)));
    await c.waitMesh(["n1", "n2"]);
    const pods = new Map<string, Pods>();
    for (const [i, cfg] of CONFIGS.entries()) pods.set(cfg.key, await podsFor(c, cfg, i));
    for (const p of pods.values()) {
      for (const s of [p.same, p.remote]) {
        const srv = c.startServer(s.netns, `iperf-${s.netns}`, [
          "iperf3",
          "-s",
          "-p",
          String(IPERF),
          "--forceflush",
        ]);
        await until(
          `iperf3 in ${s.netns}`,
          async () => (await tail(srv.log)).includes("listening"),
        );
      }
      const rr = c.startServer(p.remote.netns, `rr-${p.remote.netns}`, [
        "python3",
        RR_PY,
        "serve",
        String(RR),
      ]);
      await until(
        `rr in ${p.remote.netns}`,
        async () => (await tail(rr.log)).includes("listening"),
      );
    }
    const samples = new Map<string, Record<Metric, number[]>>(
      CONFIGS.map((cfg) => [cfg.key, { udpCross: [], udpSame: [], rrUs: [], tcp1: [], tcp4: [] }]),
    );
    for (let r = 0; r < rounds; r++) {
      for (const cfg of CONFIGS) {
        const p = pods.get(cfg.key)!;
        const s = samples.get(cfg.key)!;
        const from = p.client.netns;
        s.udpCross.push(await udpPps(from, p.remote.ip, seconds));
        s.udpSame.push(await udpPps(from, p.same.ip, seconds));
        s.rrUs.push(await rrUs(from, p.remote.ip, seconds));
        s.tcp1.push(await tcpGbps(from, p.remote.ip, seconds, 1));
        s.tcp4.push(await tcpGbps(from, p.remote.ip, seconds, 4));
      }
    }
    return render(samples, { rounds, seconds });
  } finally {
    const errors = await c.teardown();
    if (errors.length) console.error(`routed bench teardown: ${errors.join("; ")}`);
  }
}

function render(
  samples: Map<string, Record<Metric, number[]>>,
  o: { rounds: number; seconds: number },
): string {
  const rows: [string, Metric, number, number][] = [
    ["UDP 64 B pkt/s, across nodes (k)", "udpCross", 1e3, 0],
    ["UDP 64 B pkt/s, same node (k)", "udpSame", 1e3, 0],
    ["TCP req/resp round trip (µs)", "rrUs", 1, 1],
    ["TCP bulk, 1 stream (Gbit/s)", "tcp1", 1, 2],
    ["TCP bulk, 4 streams (Gbit/s)", "tcp4", 1, 2],
  ];
  const med = (k: string, m: Metric) => median(samples.get(k)![m]);
  const cell = (k: string, m: Metric, div: number, d: number) => {
    const xs = samples.get(k)![m].map((x) => x / div);
    return `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;
  };
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const body = rows.map(([name, m, div, d]) => [
    name,
    ...CONFIGS.map((cfg) => cell(cfg.key, m, div, d)),
    x(med("routed+guard", m), med("bridge+guard", m)),
    x(med("routed+guard", m), med("routed", m)),
    x(med("bridge+guard", m), med("bridge", m)),
  ]);
  const routedVsBridge = med("routed+guard", "udpCross") / med("bridge+guard", "udpCross");
  const guardRouted = 1 - med("routed+guard", "udpCross") / med("routed", "udpCross");
  const guardBridge = 1 - med("bridge+guard", "udpCross") / med("bridge", "udpCross");
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return [
    table([
      "metric (median, min–max)",
      ...CONFIGS.map((c) => c.key),
      "routed/bridge (guard on)",
      "guard on/off routed",
      "guard on/off bridge",
    ], body),
    "",
    `${o.rounds} rounds x ${o.seconds} s per measurement, configurations interleaved per round.`,
    `target routed >= 1.15x bridge pkt/s across nodes: ${
      routedVsBridge >= 1.15 ? "met" : "NOT met"
    } (${routedVsBridge.toFixed(2)}x)`,
    `target anti-spoofing <= 3% pkt/s across nodes: routed ${pct(guardRouted)}, bridge ${
      pct(guardBridge)
    } (${guardRouted <= 0.03 && guardBridge <= 0.03 ? "met" : "NOT met"})`,
  ].join("\n");
}

if (import.meta.main) console.log(await routedBench());
