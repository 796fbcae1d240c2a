/**
 * Runs inside the chain bench's node netns (chain_bench.ts): every pod made
 * and removed through a whole CNI chain, the way a runtime runs it: ADD
 * through each plugin in order with the previous result, DEL in reverse
 * order. Each pod asks for its own hostPort and a bandwidth limit. Variants
 * are interleaved sample by sample, so a busy shared machine skews them
 * alike. Prints one JSON object with the raw samples on stdout.
 * @module
 */

import { childCpuReader } from "./cpu.ts";

/** One plugin of a chain. */
export interface ChainPlugin {
  path: string;
  config: Record<string, unknown>;
}

/** One chain under test. */
export interface ChainVariant {
  label: string;
  /** Network name and cniVersion shared by the chain's plugins. */
  name: string;
  cniVersion: string;
  plugins: ChainPlugin[];
}

/** Worker input. */
export interface ChainInput {
  variants: ChainVariant[];
  pods: string[];
  parallel: number;
  rounds: number;
  /** First hostPort; pod i of a phase gets base + offset + i. */
  portBase: number;
  /** The agent's plugin socket server: its CPU counts with the calls it runs. */
  agentPid?: number;
}

/** Samples of one variant. */
export interface ChainSamples {
  label: string;
  addMs: number[];
  delMs: number[];
  parallelRoundMs: number[];
  /** CPU (user + system) of the chain's processes per sequential ADD / DEL, ms. */
  addCpuMs: number;
  delCpuMs: number;
  /** CPU of the chain's processes per ADD in the parallel rounds, ms. */
  parallelAddCpuMs: number;
  failures: string[];
}

const BANDWIDTH = {
  ingressRate: 50_000_000,
  ingressBurst: 4_000_000,
  egressRate: 50_000_000,
  egressBurst: 4_000_000,
};

interface Pod {
  id: string;
  netns: string;
  ifname: string;
  hostPort: number;
}

async function exec(p: ChainPlugin, cmd: string, pod: Pod, stdin: unknown) {
  const child = new Deno.Command(p.path, {
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: pod.id,
      CNI_NETNS: pod.netns,
      CNI_IFNAME: pod.ifname,
      CNI_PATH: "/usr/lib/cni",
    },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(stdin)));
  await w.close();
  const r = await child.output();
  return { code: r.code, stdout: new TextDecoder().decode(r.stdout) };
}

function confOf(v: ChainVariant, p: ChainPlugin, pod: Pod, prevResult?: unknown) {
  const caps = (p.config["capabilities"] ?? {}) as Record<string, boolean>;
  const runtimeConfig: Record<string, unknown> = {};
  if (caps["portMappings"]) {
    runtimeConfig["portMappings"] = [{
      hostPort: pod.hostPort,
      containerPort: 80,
      protocol: "tcp",
    }];
  }
  if (caps["bandwidth"]) runtimeConfig["bandwidth"] = BANDWIDTH;
  const conf: Record<string, unknown> = {
    ...p.config,
    name: v.name,
    cniVersion: v.cniVersion,
    runtimeConfig,
  };
  delete conf["capabilities"];
  if (prevResult !== undefined) conf["prevResult"] = prevResult;
  return conf;
}

/** ADD through the chain; returns the failure text or "". */
async function add(v: ChainVariant, pod: Pod): Promise<string> {
  let prev: unknown;
  for (const p of v.plugins) {
    const r = await exec(p, "ADD", pod, confOf(v, p, pod, prev));
    if (r.code !== 0) return `${p.path}: ${r.stdout}`;
    prev = JSON.parse(r.stdout);
  }
  return "";
}

/** DEL through the chain in reverse. */
async function del(v: ChainVariant, pod: Pod): Promise<string> {
  for (const p of [...v.plugins].reverse()) {
    const r = await exec(p, "DEL", pod, confOf(v, p, pod));
    if (r.code !== 0) return `${p.path} DEL: ${r.stdout}`;
  }
  return "";
}

/** CPU of a running process (not our child), ms: utime + stime from /proc, 10 ms ticks. */
function processCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function timed(fn: () => Promise<string>): Promise<{ ms: number; err: string }> {
  const t = performance.now();
  const err = await fn();
  return { ms: performance.now() - t, err };
}

/** Runs every variant, interleaved. */
export async function runChains(input: ChainInput): Promise<ChainSamples[]> {
  const { variants, pods } = input;
  const all = variants.map((v): ChainSamples => ({
    label: v.label,
    addMs: [],
    delMs: [],
    parallelRoundMs: [],
    addCpuMs: 0,
    delCpuMs: 0,
    parallelAddCpuMs: 0,
    failures: [],
  }));
  const children = childCpuReader();
  const cpu = () => children() + (input.agentPid ? processCpuMs(input.agentPid) : 0);
  const podOf = (k: number, i: number, phase: number, netns: string): Pod => ({
    id: `${variants[k]!.label}-${phase}-${i}`,
    netns,
    ifname: `eth${k}`,
    hostPort: input.portBase + k * 5000 + phase * 500 + i,
  });
  for (const [k, v] of variants.entries()) {
    const warm = podOf(k, 0, 9, pods[0]!);
    await add(v, warm);
    await del(v, warm);
  }
  for (const [i, netns] of pods.entries()) {
    for (const [k, v] of variants.entries()) {
      const c = cpu();
      const r = await timed(() => add(v, podOf(k, i, 0, netns)));
      all[k]!.addCpuMs += (cpu() - c) / pods.length;
      all[k]!.addMs.push(r.ms);
      if (r.err) all[k]!.failures.push(r.err);
    }
  }
  for (const [i, netns] of pods.entries()) {
    for (const [k, v] of variants.entries()) {
      const c = cpu();
      const r = await timed(() => del(v, podOf(k, i, 0, netns)));
      all[k]!.delCpuMs += (cpu() - c) / pods.length;
      all[k]!.delMs.push(r.ms);
      if (r.err) all[k]!.failures.push(r.err);
    }
  }
  const batch = pods.slice(0, input.parallel);
  for (let round = 0; round < input.rounds; round++) {
    for (const [k, v] of variants.entries()) {
      const ps = batch.map((netns, i) => podOf(k, i, round + 1, netns));
      const c = cpu();
      const t = performance.now();
      const errs = await Promise.all(ps.map((p) => add(v, p)));
      all[k]!.parallelRoundMs.push(performance.now() - t);
      all[k]!.parallelAddCpuMs += (cpu() - c) / (ps.length * input.rounds);
      all[k]!.failures.push(...errs.filter((e) => e));
      await Promise.all(ps.map((p) => del(v, p)));
    }
  }
  return all;
}

if (import.meta.main) {
  const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as ChainInput;
  console.log(JSON.stringify(await runChains(input)));
}
