/**
 * Whole-chain benchmark (issue 15): a pod with a hostPort and a bandwidth
 * limit made and removed by hostgate alone (built-in portmap and bandwidth)
 * next to the reference chain bridge + host-local -> portmap -> bandwidth
 * from /usr/lib/cni, in one run, samples interleaved (chain_worker.ts). ADD
 * and DEL p50/p99 over the pods, and 20-way parallel ADD throughput.
 * Targets: ADD p50 <= 0.8x, DEL p50 <= 0.5x, parallel >= 1.5x the reference.
 * @module
 */
import { type NetnsSet, withNetns } from "../tests/helpers/netns.ts";
import { AGENT_V8_FLAGS } from "../src/build/targets.ts";
import type { ChainInput, ChainSamples, ChainVariant } from "./chain_worker.ts";
import { fmt, ratio, stats, table } from "./table.ts";

/** Options of the chain benchmark. */
export interface ChainBenchOptions {
  pods?: number;
  parallel?: number;
  rounds?: number;
  prefix?: string;
}

const ROOT = new URL("../", import.meta.url).pathname;

function variants(ipamDir: string, stateDir: string, socket: string): ChainVariant[] {
  const base = { isGateway: true, isDefaultGateway: true };
  return [
    {
      label: "ref",
      name: "bench-chain-ref",
      cniVersion: "1.0.0",
      plugins: [
        {
          path: "/usr/lib/cni/bridge",
          config: {
            ...base,
            type: "bridge",
            bridge: "hgc-ref",
            ipMasq: false,
            ipam: { type: "host-local", subnet: "10.97.1.0/24", dataDir: `${ipamDir}/ref` },
          },
        },
        {
          path: "/usr/lib/cni/portmap",
          config: { type: "portmap", capabilities: { portMappings: true }, snat: true },
        },
        {
          path: "/usr/lib/cni/bandwidth",
          config: { type: "bandwidth", capabilities: { bandwidth: true } },
        },
      ],
    },
    hostgateVariant({ label: "hostgate", id: "hg", subnet: "10.97.0.0/24", ipamDir, stateDir }),
    hostgateVariant({
      label: "agent",
      id: "hga",
      subnet: "10.97.2.0/24",
      ipamDir,
      stateDir,
      socket,
    }),
  ];
}

/** hostgate alone with a hostPort and a bandwidth limit; with `socket`, relayed to the agent. */
function hostgateVariant(v: {
  label: string;
  id: string;
  subnet: string;
  ipamDir: string;
  stateDir: string;
  socket?: string;
}): ChainVariant {
  return {
    label: v.label,
    name: `bench-chain-${v.id}`,
    cniVersion: "1.0.0",
    plugins: [{
      path: `${ROOT}dist/bundle/hostgate`,
      config: {
        isGateway: true,
        isDefaultGateway: true,
        type: "hostgate",
        bridge: `hgc-${v.id}`,
        stateDir: v.stateDir,
        ...(v.socket ? { agentSocket: v.socket } : {}),
        capabilities: { portMappings: true, bandwidth: true },
        ipam: { type: "hostgate-local", subnet: v.subnet, dataDir: `${v.ipamDir}/${v.id}` },
      },
    }],
  };
}

/** Runs the suite and returns the printed table. */
export async function chainBench(opts: ChainBenchOptions = {}): Promise<string> {
  const podCount = opts.pods ?? 40;
  const ipamDir = await Deno.makeTempDir({ prefix: "hostgate-chain-ipam-" });
  const stateDir = await Deno.makeTempDir({ prefix: "hostgate-chain-state-" });
  try {
    return await withNetns(opts.prefix ?? "hgcb", async (ns) => {
      const node = await ns.add("node");
      const pods: string[] = [];
      for (let i = 0; i < podCount; i++) pods.push(ns.path(await ns.add(`p${i}`)));
      const socket = `${stateDir}/agent/plugin.sock`;
      const server = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          node,
          Deno.execPath(),
          "run",
          "--allow-all",
          // The agent's own V8 flags: a call runs in the agent's heap, with its GC settings.
          `--v8-flags=${AGENT_V8_FLAGS.join(",")}`,
          `${ROOT}bench/plugin_server_main.ts`,
          socket,
        ],
        stdin: "null",
        stdout: "null",
      }).spawn();
      try {
        await waitForSocket(socket, server.status);
        const chains = variants(ipamDir, stateDir, socket);
        return await runWorker(ns, node, pods, chains, { ...opts, agentPid: server.pid });
      } finally {
        server.kill("SIGTERM");
        await server.status;
      }
    });
  } finally {
    await Deno.remove(ipamDir, { recursive: true });
    await Deno.remove(stateDir, { recursive: true });
  }
}

async function waitForSocket(path: string, exited: Promise<Deno.CommandStatus>): Promise<void> {
  let done = false;
  exited.then(() => done = true);
  for (let i = 0; i < 200 && !done; i++) {
    if ((await Deno.lstat(path).catch(() => undefined))?.isSocket) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `Cannot start the plugin socket at ${path}: ${done ? "its server exited" : "not up in 10 s"}`,
  );
}

async function runWorker(
  ns: NetnsSet,
  node: string,
  pods: string[],
  chains: ChainVariant[],
  opts: ChainBenchOptions & { agentPid: number },
): Promise<string> {
  const input: ChainInput = {
    variants: chains,
    pods,
    parallel: opts.parallel ?? 20,
    rounds: opts.rounds ?? 8,
    portBase: 20000,
    agentPid: opts.agentPid,
  };
  const out = await ns.sh(node, [
    Deno.execPath(),
    "run",
    "--allow-all",
    `${ROOT}bench/chain_worker.ts`,
  ], { stdin: JSON.stringify(input) });
  return render(JSON.parse(out) as ChainSamples[], input.parallel);
}

function render(samples: ChainSamples[], parallel: number): string {
  const by = (label: string) => samples.find((s) => s.label === label)!;
  const hg = by("hostgate"), agent = by("agent"), ref = by("ref");
  const thr = (s: ChainSamples) => {
    const total = s.parallelRoundMs.reduce((a, b) => a + b, 0);
    return (parallel * s.parallelRoundMs.length) / (total / 1000);
  };
  type Row = [string, (s: ChainSamples) => number, number, string];
  const rows: Row[] = [
    ["ADD p50 ms", (s) => stats(s.addMs).p50, 1, "<= 0.8x"],
    ["ADD p99 ms", (s) => stats(s.addMs).p99, 1, ""],
    ["DEL p50 ms", (s) => stats(s.delMs).p50, 1, "<= 0.5x"],
    ["DEL p99 ms", (s) => stats(s.delMs).p99, 1, ""],
    [`parallel ADD/s (${parallel}-way)`, thr, 1, ">= 1.5x"],
    ["CPU ms per ADD", (s) => s.addCpuMs, 1, ""],
    ["CPU ms per DEL", (s) => s.delCpuMs, 1, ""],
    [`CPU ms per ADD (${parallel}-way)`, (s) => s.parallelAddCpuMs, 1, ""],
    ["failures", (s) => s.failures.length, 0, "0"],
  ];
  const body = rows.map(([name, f, d, target]) => [
    name,
    fmt(f(agent), d),
    fmt(f(hg), d),
    fmt(f(ref), d),
    ratio(f(agent), f(ref)),
    ratio(f(hg), f(ref)),
    target,
  ]);
  const failures = [...agent.failures, ...hg.failures, ...ref.failures].slice(0, 3);
  return [
    `Chain: a hostPort and a bandwidth limit per pod; ${hg.addMs.length} pods sequential, ` +
    `${parallel}-way parallel ADD x ${hg.parallelRoundMs.length} rounds. "via agent": the plugin ` +
    `relays to the agent's plugin socket (its CPU counted); "in-process": no agent listening`,
    table([
      "metric",
      "hostgate via agent",
      "hostgate in-process",
      "ref bridge+host-local+portmap+bandwidth",
      "agent/ref",
      "in-process/ref",
      "target",
    ], body),
    ...(failures.length ? ["first failures:", ...failures] : []),
  ].join("\n");
}
