/**
 * Overlay benchmark (issue 7): TCP throughput with iperf3 (bounded runs, -J)
 * pod to pod across nodes over VXLAN, pod to pod over host-gw, and raw node
 * to node on the same paths, in one run on one topology: segments A and B
 * joined by a router, nodes a1 and a2 on A, b1 on B, agents in
 * `--backend auto` (so a1 -> b1 is tunnelled and a1 -> a2 is direct).
 * Target: VXLAN >= 0.75x raw across the router. Needs root and the bundle.
 * @module
 */
import { run, withNetns } from "../tests/helpers/netns.ts";
import { AGENT, LAB_WAIT, VxlanLab } from "../tests/helpers/vxlan_lab.ts";
import { until } from "../tests/helpers/until.ts";
import { fmt, ratio, stats, table } from "./table.ts";

/** Options of the overlay benchmark. */
export interface VxlanBenchOptions {
  /** iperf3 runs per path (interleaved). */
  rounds?: number;
  /** Seconds per run (after a 1 s omitted warm-up). */
  seconds?: number;
}

/** One measured path. */
interface Path {
  label: string;
  /** Netns of the iperf3 client and server. */
  from: string;
  to: string;
  /** Server address as the client dials it. */
  addr: string;
  /** Label of the raw path this one is compared with. */
  versus?: string;
}

interface Sample {
  gbps: number;
  retransmits: number;
}

const PORT = 5201;

async function iperf(p: Path, seconds: number): Promise<Sample> {
  const server = new Deno.Command("ip", {
    args: ["netns", "exec", p.to, "iperf3", "-s", "-1", "-p", String(PORT)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const out = await until(`iperf3 ${p.label}`, async () => {
      const r = await run([
        "ip",
        "netns",
        "exec",
        p.from,
        "iperf3",
        "-c",
        p.addr,
        "-p",
        String(PORT),
        "-t",
        String(seconds),
        "-O",
        "1",
        "-J",
        "--connect-timeout",
        "1000",
      ]);
      if (r.code !== 0) return undefined;
      // iperf3 -J may exit 0 with {"error": ...} (server not listening yet): try again.
      const j = JSON.parse(r.stdout);
      return j.error === undefined && j.end?.sum_received ? j : undefined;
    }, 10_000 + seconds * 2000);
    const j = out;
    return {
      gbps: j.end.sum_received.bits_per_second / 1e9,
      retransmits: j.end.sum_sent.retransmits ?? 0,
    };
  } finally {
    try {
      server.kill("SIGTERM");
    } catch {
      // exited after its one client
    }
    await server.status;
  }
}

/** Runs the suite and returns the printed table. */
export async function vxlanBench(opts: VxlanBenchOptions = {}): Promise<string> {
  const rounds = opts.rounds ?? 5;
  const seconds = opts.seconds ?? 3;
  await Deno.stat(AGENT).catch(() => {
    throw new Error(`Cannot run the vxlan benchmark: ${AGENT} missing (run deno task bundle)`);
  });
  const tmp = await Deno.makeTempDir({ prefix: "hgvxb-" });
  let lab: VxlanLab | undefined;
  try {
    return await withNetns("hgvxb", async (set) => {
      lab = new VxlanLab(set, tmp, ["--backend=auto"]);
      const L = lab;
      await L.build();
      await L.addNode("a1", "a", 11);
      await L.addNode("a2", "a", 12);
      await L.addNode("b1", "b", 11);
      for (const n of ["a1", "a2", "b1"]) await L.start(n);
      for (const n of ["a1", "a2", "b1"]) await until(`${n} ready`, () => L.ready(n), LAB_WAIT);
      const pa1 = await L.pod("a1", "pa1");
      const pa2 = await L.pod("a2", "pa2");
      const pb1 = await L.pod("b1", "pb1");
      const ns = (n: string) => `${set.prefix}-${n}`;
      const paths: Path[] = [
        {
          label: "raw node->node across the router",
          from: ns("a1"),
          to: ns("b1"),
          addr: "172.31.2.11",
        },
        {
          label: "raw node->node on one segment",
          from: ns("a1"),
          to: ns("a2"),
          addr: "172.31.1.12",
        },
        {
          label: "pod->pod VXLAN (a1->b1)",
          from: ns("pa1"),
          to: ns("pb1"),
          addr: pb1.ip,
          versus: "raw node->node across the router",
        },
        {
          label: "pod->pod host-gw (a1->a2)",
          from: ns("pa1"),
          to: ns("pa2"),
          addr: pa2.ip,
          versus: "raw node->node on one segment",
        },
      ];
      const samples = new Map<string, Sample[]>(paths.map((p) => [p.label, []]));
      for (let i = 0; i < rounds; i++) {
        for (const p of paths) samples.get(p.label)!.push(await iperf(p, seconds));
      }
      const mtu = JSON.parse(
        (await run(["ip", "-n", ns("pa1"), "-j", "link", "show", "eth0"])).stdout,
      )[0].mtu as number;
      return render(paths, samples, { rounds, seconds, podMtu: mtu, podA: pa1.ip });
    });
  } finally {
    await lab?.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function render(
  paths: Path[],
  samples: Map<string, Sample[]>,
  o: { rounds: number; seconds: number; podMtu: number; podA: string },
): string {
  const median = (label: string) => stats(samples.get(label)!.map((s) => s.gbps)).p50;
  const rows = paths.map((p) => {
    const s = samples.get(p.label)!;
    const g = stats(s.map((x) => x.gbps));
    return [
      p.label,
      fmt(g.p50, 2),
      fmt(Math.min(...s.map((x) => x.gbps)), 2),
      fmt(g.max, 2),
      String(s.reduce((a, x) => a + x.retransmits, 0)),
      p.versus ? ratio(g.p50, median(p.versus)) : "1.00x",
    ];
  });
  const vx = median("pod->pod VXLAN (a1->b1)") / median("raw node->node across the router");
  return [
    `VXLAN overlay: iperf3 TCP, ${o.rounds} runs x ${o.seconds} s per path (interleaved), ` +
    `pod MTU ${o.podMtu}, uplink MTU 1500`,
    table(["path", "Gbit/s p50", "min", "max", "retransmits", "vs raw same path"], rows),
    `target VXLAN >= 0.75x raw: ${vx >= 0.75 ? "met" : "NOT met"} (${vx.toFixed(2)}x)`,
  ].join("\n");
}
