/**
 * Data plane benchmark (issue 4): TCP throughput with iperf3 in the
 * simulated cluster (tests/cluster/), pod to pod across nodes (bridge, veth,
 * host-gw route over the node segment), pod to pod on one node (bridge only),
 * and raw node to node over the same segment, in one run, interleaved over
 * a few rounds so background load hits every path alike. Each iperf3 run is
 * bounded (`-t`). Target: cross-node pod to pod >= 0.90x raw.
 * @module
 */
import { Cluster } from "../tests/cluster/cluster.ts";
import { tail } from "../tests/cluster/procs.ts";
import { run } from "../tests/helpers/netns.ts";
import { fmt, ratio, table } from "./table.ts";
import { until } from "../tests/helpers/until.ts";

/** Options of the data plane benchmark. */
export interface DataplaneBenchOptions {
  /** Seconds per iperf3 run (default 3). */
  seconds?: number;
  /** Runs per path, interleaved (default 4); the table shows the median and the best. */
  rounds?: number;
  /** Namespace prefix (default "hgcb"). */
  prefix?: string;
}

/** One measured path. */
interface Path {
  label: string;
  from: string;
  to: string;
}

interface Sample {
  bps: number;
  retransmits: number;
}

const PORT = 5201;

async function iperf(p: Path, seconds: number): Promise<Sample> {
  const { from, to } = p;
  const r = await run([
    "ip",
    "netns",
    "exec",
    from,
    "iperf3",
    "-c",
    to,
    "-p",
    String(PORT),
    "-t",
    String(seconds),
    "-J",
  ]);
  const doc = JSON.parse(r.stdout || "{}") as {
    error?: string;
    end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } };
  };
  if (r.code !== 0 || !doc.end?.sum_received) {
    throw new Error(`Cannot run iperf3 to ${to}: ${doc.error ?? r.stderr.trim()}`);
  }
  return {
    bps: doc.end.sum_received.bits_per_second,
    retransmits: doc.end.sum_sent?.retransmits ?? 0,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Builds a two-node cluster, measures the three paths, returns the table. */
export async function dataplaneBench(opts: DataplaneBenchOptions = {}): Promise<string> {
  const seconds = opts.seconds ?? 3;
  const rounds = opts.rounds ?? 4;
  const c = await Cluster.start({ prefix: opts.prefix ?? "hgcb", nodes: 2, datastore: "file" });
  try {
    await Promise.all(["n1", "n2"].map((n) => c.join(n)));
    await c.waitMesh(["n1", "n2"]);
    const [a1, b1, a2] = await Promise.all([
      c.addPod("n1", "a"),
      c.addPod("n1", "b"),
      c.addPod("n2", "a"),
    ]);
    const n1 = c.node("n1");
    const n2 = c.node("n2");
    const servers = [
      { netns: a2.netns, name: "iperf-n2a" },
      { netns: b1.netns, name: "iperf-n1b" },
      { netns: n2.netns, name: "iperf-n2" },
    ];
    await Promise.all(servers.map(async (s) => {
      const p = c.startServer(s.netns, s.name, [
        "iperf3",
        "-s",
        "-p",
        String(PORT),
        "--forceflush",
      ]);
      await until(`${s.name} listening`, async () => (await tail(p.log)).includes("listening"));
    }));
    const paths: Path[] = [
      { label: "raw node to node", from: n1.netns, to: n2.ip },
      { label: "pod to pod, across nodes", from: a1.netns, to: a2.ip },
      { label: "pod to pod, same node", from: a1.netns, to: b1.ip },
    ];
    const samples = new Map<string, Sample[]>(paths.map((p) => [p.label, []]));
    for (let r = 0; r < rounds; r++) {
      for (const p of paths) samples.get(p.label)!.push(await iperf(p, seconds));
    }
    const gbps = (label: string) => median(samples.get(label)!.map((s) => s.bps)) / 1e9;
    const best = (label: string) => Math.max(...samples.get(label)!.map((s) => s.bps)) / 1e9;
    // Ratios paired per round (the paths of a round run back to back), then the
    // median: load from other processes on the machine shifts a round as a whole.
    const rawRuns = samples.get(paths[0]!.label)!;
    const pairedRatio = (label: string) =>
      median(samples.get(label)!.map((s, i) => s.bps / rawRuns[i]!.bps));
    const rows = paths.map((p) => {
      const s = samples.get(p.label)!;
      return [
        p.label,
        fmt(gbps(p.label), 2),
        fmt(best(p.label), 2),
        s.map((x) => fmt(x.bps / 1e9, 1)).join(" "),
        String(median(s.map((x) => x.retransmits))),
        `${pairedRatio(p.label).toFixed(2)}x`,
        ratio(best(p.label), best(paths[0]!.label)),
      ];
    });
    const cross = pairedRatio(paths[1]!.label);
    return [
      table([
        "path (iperf3, 1 TCP stream)",
        "Gbit/s median",
        "best",
        "runs",
        "retrans.",
        "vs raw (median of rounds)",
        "vs raw (best)",
      ], rows),
      "",
      `${rounds} rounds x ${seconds} s per path, paths interleaved in each round; MTU 1500.`,
      `target cross-node pod to pod >= 0.90x raw: ${cross >= 0.9 ? "met" : "NOT met"} (${
        cross.toFixed(2)
      }x)`,
    ].join("\n");
  } finally {
    const errors = await c.teardown();
    if (errors.length) console.error(`dataplane bench teardown: ${errors.join("; ")}`);
  }
}

if (import.meta.main) console.log(await dataplaneBench());
