/**
 * Plugin benchmark (issue 2): ADD and DEL latency over 50 pods and 20-way
 * parallel ADD throughput, hostgate next to the Debian reference bridge +
 * host-local (ipMasq on and off), same subnet size, same run, the variants'
 * samples interleaved (plugin_worker.ts) so a busy machine skews them alike.
 * CPU time per call (the plugin and its children) is reported too: on a
 * shared 2-core machine it is what bounds parallel throughput.
 * @module
 */
import { withNetns } from "../tests/helpers/netns.ts";
import { fmt, ratio, stats, table } from "./table.ts";
import type { Variant, VariantSamples, WorkerInput } from "./plugin_worker.ts";

/** Options of the plugin benchmark. */
export interface PluginBenchOptions {
  pods?: number;
  parallel?: number;
  rounds?: number;
  /** Network namespace name prefix (default "hgbp"); give each concurrent run its own. */
  prefix?: string;
  /** The hostgate executable under test (default dist/bundle/hostgate), e.g. a build variant. */
  hostgate?: string;
}

const ROOT = new URL("../", import.meta.url).pathname;

function variants(ipamDir: string, hostgate: string): Variant[] {
  const base = { cniVersion: "1.0.0", isGateway: true, isDefaultGateway: true };
  const refIpam = (subnet: string, name: string) => ({
    type: "host-local",
    subnet,
    dataDir: `${ipamDir}/${name}`,
  });
  return [
    {
      label: "ref-masq",
      plugin: "/usr/lib/cni/bridge",
      config: {
        ...base,
        name: "bench-rm",
        type: "bridge",
        bridge: "hgb-rm",
        ipMasq: true,
        ipam: refIpam("10.96.1.0/24", "rm"),
      },
    },
    {
      label: "hostgate",
      plugin: hostgate,
      config: {
        ...base,
        name: "bench-hg",
        type: "hostgate",
        bridge: "hgb-hg",
        ipam: { type: "hostgate-local", subnet: "10.96.0.0/24", dataDir: `${ipamDir}/hg` },
      },
    },
    {
      label: "hostgate-routed",
      plugin: hostgate,
      config: {
        ...base,
        name: "bench-hr",
        type: "hostgate",
        mode: "routed",
        ipam: { type: "hostgate-local", subnet: "10.96.3.0/24", dataDir: `${ipamDir}/hr` },
      },
    },
    {
      label: "ref-nomasq",
      plugin: "/usr/lib/cni/bridge",
      config: {
        ...base,
        name: "bench-rn",
        type: "bridge",
        bridge: "hgb-rn",
        ipMasq: false,
        ipam: refIpam("10.96.2.0/24", "rn"),
      },
    },
  ];
}

/** Runs the suite and returns the printed table. */
export async function pluginBench(opts: PluginBenchOptions = {}): Promise<string> {
  const podCount = opts.pods ?? 50;
  const ipamDir = await Deno.makeTempDir({ prefix: "hostgate-bench-ipam-" });
  try {
    return await withNetns(opts.prefix ?? "hgbp", async (ns) => {
      const node = await ns.add("node");
      const pods: string[] = [];
      for (let i = 0; i < podCount; i++) pods.push(ns.path(await ns.add(`p${i}`)));
      const input: WorkerInput = {
        variants: variants(ipamDir, opts.hostgate ?? `${ROOT}dist/bundle/hostgate`),
        pods,
        parallel: opts.parallel ?? 20,
        rounds: opts.rounds ?? 3,
      };
      const out = await ns.sh(node, [
        Deno.execPath(),
        "run",
        "--allow-all",
        `${ROOT}bench/plugin_worker.ts`,
      ], { stdin: JSON.stringify(input) });
      return render(JSON.parse(out) as VariantSamples[], input.parallel);
    });
  } finally {
    await Deno.remove(ipamDir, { recursive: true });
  }
}

function render(samples: VariantSamples[], parallel: number): string {
  const by = (label: string) => samples.find((s) => s.label === label)!;
  const hg = by("hostgate"), hr = by("hostgate-routed"), rm = by("ref-masq");
  const rn = by("ref-nomasq");
  const thr = (s: VariantSamples) => {
    const total = s.parallelRoundMs.reduce((a, b) => a + b, 0);
    return (parallel * s.parallelRoundMs.length) / (total / 1000);
  };
  type Row = [string, (s: VariantSamples) => number, number];
  const rows: Row[] = [
    ["ADD mean ms", (s) => stats(s.addMs).mean, 1],
    ["ADD p50 ms", (s) => stats(s.addMs).p50, 1],
    ["ADD p95 ms", (s) => stats(s.addMs).p95, 1],
    ["DEL mean ms", (s) => stats(s.delMs).mean, 1],
    ["DEL p50 ms", (s) => stats(s.delMs).p50, 1],
    ["DEL p95 ms", (s) => stats(s.delMs).p95, 1],
    ["CPU ms per ADD", (s) => s.addCpuMs, 1],
    ["CPU ms per DEL", (s) => s.delCpuMs, 1],
    [`parallel ADD/s (${parallel}-way)`, thr, 1],
    ["failed ADDs", (s) => s.addFailures.length, 0],
    ["duplicate IPs", (s) => s.duplicateIps.length, 0],
  ];
  const body = rows.map(([name, f, d]) => [
    name,
    fmt(f(hg), d),
    fmt(f(hr), d),
    fmt(f(rm), d),
    fmt(f(rn), d),
    ratio(f(hg), f(rm)),
    ratio(f(hr), f(rm)),
    fmt(f(hr) - f(hg), 2),
  ]);
  const failures = [...hg.addFailures, ...hr.addFailures, ...rm.addFailures, ...rn.addFailures]
    .slice(0, 3);
  const addGap = stats(hr.addMs).p50 - stats(hg.addMs).p50;
  return [
    `Plugin: ${hg.addMs.length} pods sequential, ${parallel}-way parallel ADD x ${hg.parallelRoundMs.length} rounds`,
    table([
      "metric",
      "hostgate bridge",
      "hostgate routed",
      "ref bridge+host-local (ipMasq)",
      "ref (no ipMasq)",
      "bridge/ref(masq)",
      "routed/ref(masq)",
      "routed - bridge",
    ], body),
    "hostgate columns include the anti-spoofing chain (one nft spawn per ADD and DEL).",
    `target routed ADD p50 <= bridge ADD p50 + 1 ms: ${addGap <= 1 ? "met" : "NOT met"} (${
      addGap >= 0 ? "+" : ""
    }${addGap.toFixed(2)} ms)`,
    ...(failures.length ? ["first failures:", ...failures] : []),
  ].join("\n");
}
