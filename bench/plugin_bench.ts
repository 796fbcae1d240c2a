/**
 * Plugin benchmark (issues 2 and 17): ADD and DEL latency over 50 pods,
 * 20-way parallel ADD throughput and VERSION, hostgate next to the Debian
 * reference bridge + host-local (ipMasq on and off) and VERSION next to an
 * empty Deno script; same subnet size, same run, the variants' samples
 * interleaved (plugin_worker.ts) so a busy machine skews them alike.
 *
 * Every figure is taken twice: with a bare environment (only CNI_* and PATH,
 * as `env -i` gives) and with a runtime's (HOME and what containerd under
 * systemd passes on), since a Deno program's start-up may depend on both (its
 * cache directory). CPU time per call (the plugin and its children) is
 * reported too: on a shared 2-core machine it is what bounds parallel
 * throughput. A traced pass (HOSTGATE_TRACE) gives the per-call breakdown.
 * @module
 */
import { withNetns } from "../tests/helpers/netns.ts";
import { breakdownTable, parseTrace } from "./plugin_breakdown.ts";
import { fmt, ratio, stats, table } from "./table.ts";
import {
  PARALLEL_ADD,
  type Variant,
  type VariantSamples,
  type WorkerInput,
  type WorkerOutput,
} from "./plugin_worker.ts";

/** Options of the plugin benchmark. */
export interface PluginBenchOptions {
  pods?: number;
  parallel?: number;
  rounds?: number;
  /** VERSION samples per variant (default 30). */
  versions?: number;
  /** Pods of the traced pass (default 10; 0 skips it). */
  tracePods?: number;
  /** Environments to run (default both, "bare" and "runtime"). */
  envs?: string[];
  /** Network namespace name prefix (default "hgbp"); give each concurrent run its own. */
  prefix?: string;
  /** The hostgate executable under test (default dist/bundle/hostgate), e.g. a build variant. */
  hostgate?: string;
}

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The environments a plugin is called with (CNI_* is added per call).
 * `bare`: what `env -i` leaves, no HOME. `runtime`: containerd started by
 * systemd as root passes its own environment on (os.Environ() plus CNI_*).
 */
export const ENVIRONMENTS: Record<string, Record<string, string>> = {
  bare: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  runtime: {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    LANG: "C.UTF-8",
    XDG_RUNTIME_DIR: "/run/user/0",
    INVOCATION_ID: "6f1d3c2a9b8e4f0d8c7b6a5948372615",
    JOURNAL_STREAM: "8:31337",
    SYSTEMD_EXEC_PID: "811",
    NOTIFY_SOCKET: "/run/systemd/notify",
  },
};

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

/** The result of one environment's run. */
interface EnvRun {
  env: string;
  out: WorkerOutput;
  breakdown?: string;
}

/** Runs the suite and returns the printed tables. */
export async function pluginBench(opts: PluginBenchOptions = {}): Promise<string> {
  const podCount = opts.pods ?? 50;
  const parallel = opts.parallel ?? 20;
  const envs = opts.envs ?? Object.keys(ENVIRONMENTS);
  for (const e of envs) {
    if (!ENVIRONMENTS[e]) throw new Error(`Cannot run the plugin bench: unknown environment ${e}`);
  }
  const work = await Deno.makeTempDir({ prefix: "hostgate-bench-ipam-" });
  const empty = `${work}/empty.js`;
  await Deno.writeTextFile(empty, "\n");
  try {
    return await withNetns(opts.prefix ?? "hgbp", async (ns) => {
      const node = await ns.add("node");
      const pods: string[] = [];
      for (let i = 0; i < Math.max(podCount, parallel); i++) {
        pods.push(ns.path(await ns.add(`p${i}`)));
      }
      const runs: EnvRun[] = [];
      for (const env of envs) {
        const ipamDir = `${work}/ipam-${env}`;
        const traceFile = `${work}/trace-${env}.jsonl`;
        const tracePods = Math.min(opts.tracePods ?? 10, pods.length);
        const input: WorkerInput = {
          variants: variants(ipamDir, opts.hostgate ?? `${ROOT}dist/bundle/hostgate`),
          pods: pods.slice(0, podCount),
          parallel,
          rounds: opts.rounds ?? 3,
          env: ENVIRONMENTS[env]!,
          versionSamples: opts.versions ?? 30,
          emptyScript: [Deno.execPath(), "run", "--no-config", "--no-lock", empty],
          trace: tracePods > 0
            ? { label: "hostgate", file: traceFile, pods: tracePods }
            : undefined,
        };
        if (input.pods.length < parallel) input.pods = pods.slice(0, parallel);
        const text = await ns.sh(node, [
          Deno.execPath(),
          "run",
          "--allow-all",
          `${ROOT}bench/plugin_worker.ts`,
        ], { stdin: JSON.stringify(input) });
        const out = JSON.parse(text) as WorkerOutput;
        const run: EnvRun = { env, out };
        if (input.trace) {
          const lines = parseTrace(await Deno.readTextFile(traceFile).catch(() => ""));
          run.breakdown = breakdownTable(out.traced, lines, [
            "ADD",
            "DEL",
            "CHECK",
            "STATUS",
            "VERSION",
            PARALLEL_ADD,
          ]);
        }
        runs.push(run);
      }
      return render(runs, parallel, podCount);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

const by = (out: WorkerOutput, label: string) => out.variants.find((s) => s.label === label)!;

function throughput(s: VariantSamples, parallel: number): number {
  const total = s.parallelRoundMs.reduce((a, b) => a + b, 0);
  return (parallel * s.parallelRoundMs.length) / (total / 1000);
}

function envTable(run: EnvRun, parallel: number): string {
  const hg = by(run.out, "hostgate"), hr = by(run.out, "hostgate-routed");
  const rm = by(run.out, "ref-masq"), rn = by(run.out, "ref-nomasq");
  type Row = [string, (s: VariantSamples) => number, number];
  const rows: Row[] = [
    ["ADD mean ms", (s) => stats(s.addMs).mean, 1],
    ["ADD p50 ms", (s) => stats(s.addMs).p50, 1],
    ["ADD p95 ms", (s) => stats(s.addMs).p95, 1],
    ["DEL mean ms", (s) => stats(s.delMs).mean, 1],
    ["DEL p50 ms", (s) => stats(s.delMs).p50, 1],
    ["DEL p95 ms", (s) => stats(s.delMs).p95, 1],
    ["VERSION p50 ms", (s) => stats(s.versionMs).p50, 1],
    ["CPU ms per ADD", (s) => s.addCpuMs, 1],
    ["CPU ms per DEL", (s) => s.delCpuMs, 1],
    ["CPU ms per VERSION", (s) => s.versionCpuMs, 1],
    [`parallel ADD/s (${parallel}-way)`, (s) => throughput(s, parallel), 1],
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
  const emptyP50 = stats(run.out.emptyMs).p50;
  const blank = ["", "", "", "", "", ""];
  body.push(
    ["empty Deno script p50 ms", fmt(emptyP50), ...blank],
    ["CPU ms per empty Deno script", fmt(run.out.emptyCpuMs), ...blank],
    ["hostgate VERSION / empty Deno", ratio(stats(hg.versionMs).p50, emptyP50), ...blank],
  );
  const failures = [...hg.addFailures, ...hr.addFailures, ...rm.addFailures, ...rn.addFailures]
    .slice(0, 3);
  const addGap = stats(hr.addMs).p50 - stats(hg.addMs).p50;
  return [
    table([
      `metric (${run.env} environment)`,
      "hostgate bridge",
      "hostgate routed",
      "ref bridge+host-local (ipMasq)",
      "ref (no ipMasq)",
      "bridge/ref(masq)",
      "routed/ref(masq)",
      "routed - bridge",
    ], body),
    "hostgate columns include anti-spoofing (in-process set elements per ADD and DEL).",
    `target routed ADD p50 <= bridge ADD p50 + 1 ms: ${addGap <= 1 ? "met" : "NOT met"} (${
      addGap >= 0 ? "+" : ""
    }${addGap.toFixed(2)} ms)`,
    ...(failures.length ? ["first failures:", ...failures] : []),
  ].join("\n");
}

/** Issue 17's targets, each as measured in every environment. */
function targetsTable(runs: EnvRun[], parallel: number): string {
  type Target = [string, number, (o: WorkerOutput) => number, "max" | "min"];
  const hg = (o: WorkerOutput) => by(o, "hostgate");
  const rm = (o: WorkerOutput) => by(o, "ref-masq");
  const targets: Target[] = [
    ["ADD p50 / ref(masq)", 1.0, (o) => stats(hg(o).addMs).p50 / stats(rm(o).addMs).p50, "max"],
    ["DEL p50 / ref(masq)", 0.5, (o) => stats(hg(o).delMs).p50 / stats(rm(o).delMs).p50, "max"],
    [
      `${parallel}-way ADD/s / ref(masq)`,
      1.5,
      (o) => throughput(hg(o), parallel) / throughput(rm(o), parallel),
      "min",
    ],
    [
      "VERSION p50 / empty Deno",
      1.5,
      (o) => stats(hg(o).versionMs).p50 / stats(o.emptyMs).p50,
      "max",
    ],
    ["duplicate IPs", 0, (o) => hg(o).duplicateIps.length, "max"],
  ];
  const rows = targets.map(([name, goal, f, kind]) => [
    name,
    `${kind === "max" ? "<=" : ">="} ${goal}`,
    ...runs.map((r) => {
      const v = f(r.out);
      const met = kind === "max" ? v <= goal : v >= goal;
      return `${fmt(v, 2)} ${met ? "met" : "MISSED"}`;
    }),
  ]);
  return table(["target", "goal", ...runs.map((r) => r.env)], rows);
}

function render(runs: EnvRun[], parallel: number, pods: number): string {
  const first = runs[0]!.out;
  const rounds = by(first, "hostgate").parallelRoundMs.length;
  const out = [
    `Plugin: ${pods} pods sequential, ${parallel}-way parallel ADD x ${rounds} rounds, ` +
    `${by(first, "hostgate").versionMs.length} VERSIONs; environments: ${
      runs.map((r) => r.env).join(", ")
    }`,
  ];
  for (const r of runs) out.push("", envTable(r, parallel));
  out.push("", "Targets (issue 17)", targetsTable(runs, parallel));
  for (const r of runs) {
    if (r.breakdown) out.push("", `Per-call breakdown, ${r.env} environment`, r.breakdown);
  }
  return out.join("\n");
}
