/**
 * Runs inside the bench's node netns (started by plugin_bench.ts through
 * `ip netns exec`) so that timing covers only the plugin process, exactly as
 * a runtime spawns it, and not the cost of entering the namespace.
 * Prints one JSON object with the raw samples on stdout.
 * @module
 */

import { childCpuReader } from "./cpu.ts";

/** One plugin configuration under test. */
export interface Variant {
  label: string;
  /** Absolute path of the plugin executable. */
  plugin: string;
  config: Record<string, unknown>;
}

/** What the traced pass runs (hostgate only): ADD, CHECK, STATUS, VERSION, DEL per pod. */
export interface TraceInput {
  /** Label of the variant to trace. */
  label: string;
  /** The file HOSTGATE_TRACE names; the bench reads it afterwards. */
  file: string;
  /** Pods to run the five commands on (the first ones of `pods`). */
  pods: number;
}

/** Worker input. */
export interface WorkerInput {
  variants: Variant[];
  pods: string[];
  parallel: number;
  rounds: number;
  /**
   * The environment every call gets besides CNI_* (nothing else is
   * inherited): the bare one `env -i` gives, or a runtime's.
   */
  env: Record<string, string>;
  /** VERSION calls per variant, interleaved with an empty Deno script's. */
  versionSamples: number;
  /** argv of the empty Deno script VERSION is compared with. */
  emptyScript: string[];
  trace?: TraceInput;
}

/** Spawn and reap times of one traced call, on this process's clock (epoch ms). */
export interface TracedCall {
  cmd: string;
  pid: number;
  spawnAt: number;
  exitAt: number;
  code: number;
}

/** Worker output per variant. */
export interface VariantSamples {
  label: string;
  addMs: number[];
  delMs: number[];
  versionMs: number[];
  /** Wall time of each parallel round, ms. */
  parallelRoundMs: number[];
  addFailures: string[];
  duplicateIps: string[];
  /** CPU time (user + system, the plugin and its children) per sequential ADD, ms. */
  addCpuMs: number;
  /** CPU time per sequential DEL, ms. */
  delCpuMs: number;
  /** CPU time per VERSION, ms. */
  versionCpuMs: number;
}

/** Worker output. */
export interface WorkerOutput {
  variants: VariantSamples[];
  /** The empty Deno script: wall ms per run and CPU ms per run. */
  emptyMs: number[];
  emptyCpuMs: number;
  traced: TracedCall[];
}

/** CPU of every reaped child so far, ms (bench/cpu.ts). */
const childCpuMs = childCpuReader();

interface CallResult {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
  pid: number;
  spawnAt: number;
  exitAt: number;
}

/** One plugin invocation. */
interface CallArgs {
  cmd: string;
  id: string;
  netns: string;
  ifname: string;
  /** Config override (default the variant's). */
  config?: Record<string, unknown>;
  /** Extra variables (HOSTGATE_TRACE). */
  extraEnv?: Record<string, string>;
}

const now = () => performance.timeOrigin + performance.now();

async function spawn(
  argv: string[],
  env: Record<string, string>,
  stdin: string,
): Promise<CallResult> {
  const spawnAt = now();
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  try {
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  } catch (e) {
    // A plugin may exit without reading stdin (the reference's VERSION does).
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
  const res = await child.output();
  const exitAt = now();
  const dec = new TextDecoder();
  return {
    ms: exitAt - spawnAt,
    code: res.code,
    stdout: dec.decode(res.stdout),
    stderr: dec.decode(res.stderr),
    pid: child.pid,
    spawnAt,
    exitAt,
  };
}

function call(input: WorkerInput, v: Variant, a: CallArgs): Promise<CallResult> {
  return spawn([v.plugin], {
    ...input.env,
    ...a.extraEnv,
    CNI_COMMAND: a.cmd,
    CNI_CONTAINERID: a.id,
    CNI_NETNS: a.netns,
    CNI_IFNAME: a.ifname,
    CNI_PATH: "/usr/lib/cni",
  }, JSON.stringify(a.config ?? v.config));
}

function ipsOf(stdout: string): string[] {
  try {
    const r = JSON.parse(stdout) as { ips?: { address: string }[] };
    return (r.ips ?? []).map((i) => i.address.split("/")[0]!);
  } catch {
    return [];
  }
}

function duplicates(ips: string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const ip of ips) (seen.has(ip) ? dup : seen).add(ip);
  return [...dup];
}

function emptySamples(label: string): VariantSamples {
  return {
    label,
    addMs: [],
    delMs: [],
    versionMs: [],
    parallelRoundMs: [],
    addFailures: [],
    duplicateIps: [],
    addCpuMs: 0,
    delCpuMs: 0,
    versionCpuMs: 0,
  };
}

const ifname = (k: number) => `eth${k}`;

/** VERSION of every variant and the empty Deno script, interleaved. */
async function versions(input: WorkerInput, all: VariantSamples[], out: WorkerOutput) {
  let emptyCpu = 0;
  for (let i = 0; i < input.versionSamples; i++) {
    for (const [k, v] of input.variants.entries()) {
      const cpu = childCpuMs();
      const r = await call(input, v, { cmd: "VERSION", id: "", netns: "", ifname: "" });
      all[k]!.versionCpuMs += (childCpuMs() - cpu) / input.versionSamples;
      all[k]!.versionMs.push(r.ms);
    }
    const cpu = childCpuMs();
    const r = await spawn(input.emptyScript, input.env, "");
    emptyCpu += childCpuMs() - cpu;
    out.emptyMs.push(r.ms);
  }
  out.emptyCpuMs = input.versionSamples ? emptyCpu / input.versionSamples : NaN;
}

/** The command label of the traced parallel round's ADDs. */
export const PARALLEL_ADD = "ADD (parallel)";

/**
 * The traced pass: per pod ADD, CHECK (with the ADD's result as
 * prevResult), STATUS (cniVersion 1.1.0), VERSION, DEL, each with
 * HOSTGATE_TRACE set, then one parallel round of ADDs; their spawn and reap
 * times go with the trace lines.
 */
async function traced(input: WorkerInput, t: TraceInput): Promise<TracedCall[]> {
  const k = input.variants.findIndex((v) => v.label === t.label);
  const v = input.variants[k]!;
  const extraEnv = { HOSTGATE_TRACE: t.file };
  const calls: TracedCall[] = [];
  const record = (cmd: string, r: CallResult) =>
    calls.push({ cmd, pid: r.pid, spawnAt: r.spawnAt, exitAt: r.exitAt, code: r.code });
  for (const [i, netns] of input.pods.slice(0, t.pods).entries()) {
    const base = { id: `${v.label}-t${i}`, netns, ifname: ifname(k), extraEnv };
    const add = await call(input, v, { ...base, cmd: "ADD" });
    record("ADD", add);
    let prevResult: unknown = undefined;
    try {
      prevResult = JSON.parse(add.stdout);
    } catch { /* recorded as a failed ADD */ }
    record(
      "CHECK",
      await call(input, v, { ...base, cmd: "CHECK", config: { ...v.config, prevResult } }),
    );
    const v11 = { ...v.config, cniVersion: "1.1.0" };
    record("STATUS", await call(input, v, { ...base, cmd: "STATUS", config: v11 }));
    record("VERSION", await call(input, v, { ...base, cmd: "VERSION" }));
    record("DEL", await call(input, v, { ...base, cmd: "DEL" }));
  }
  // One traced parallel round: lock waits and kernel steps under contention.
  const batch = input.pods.slice(0, input.parallel);
  const args = (i: number, cmd: string) => ({
    cmd,
    id: `${v.label}-tp${i}`,
    netns: batch[i]!,
    ifname: ifname(k),
    extraEnv,
  });
  const adds = await Promise.all(batch.map((_, i) => call(input, v, args(i, "ADD"))));
  for (const r of adds) record(PARALLEL_ADD, r);
  await Promise.all(batch.map((_, i) => call(input, v, args(i, "DEL"))));
  return calls;
}

/**
 * Runs every variant, interleaved: sample i of each variant is taken right
 * after sample i of the others, and parallel round r of each right after the
 * others', so load from outside the bench (a shared machine) drifts over all
 * variants alike instead of skewing whichever ran during a busy minute. Each
 * variant uses its own interface name, so their pods' interfaces coexist.
 */
export async function runInterleaved(input: WorkerInput): Promise<WorkerOutput> {
  const { pods, variants } = input;
  const all = variants.map((v) => emptySamples(v.label));
  const out: WorkerOutput = { variants: all, emptyMs: [], emptyCpuMs: NaN, traced: [] };
  // Warm-up: page cache, bridge creation, first-run setup (hostgate's code cache).
  for (const [k, v] of variants.entries()) {
    await call(input, v, { cmd: "ADD", id: `${v.label}-warm`, netns: pods[0]!, ifname: ifname(k) });
    await call(input, v, { cmd: "DEL", id: `${v.label}-warm`, netns: pods[0]!, ifname: ifname(k) });
  }
  await versions(input, all, out);
  const seqIps: string[][] = variants.map(() => []);
  for (const [i, netns] of pods.entries()) {
    for (const [k, v] of variants.entries()) {
      const cpu = childCpuMs();
      const r = await call(input, v, {
        cmd: "ADD",
        id: `${v.label}-s${i}`,
        netns,
        ifname: ifname(k),
      });
      all[k]!.addCpuMs += childCpuMs() - cpu;
      all[k]!.addMs.push(r.ms);
      if (r.code !== 0) all[k]!.addFailures.push(r.stdout || r.stderr);
      seqIps[k]!.push(...ipsOf(r.stdout));
    }
  }
  for (const [i, netns] of pods.entries()) {
    for (const [k, v] of variants.entries()) {
      const cpu = childCpuMs();
      const r = await call(input, v, {
        cmd: "DEL",
        id: `${v.label}-s${i}`,
        netns,
        ifname: ifname(k),
      });
      all[k]!.delCpuMs += childCpuMs() - cpu;
      all[k]!.delMs.push(r.ms);
    }
  }
  for (const [k, s] of all.entries()) {
    s.addCpuMs /= pods.length;
    s.delCpuMs /= pods.length;
    s.duplicateIps.push(...duplicates(seqIps[k]!));
  }
  const batch = pods.slice(0, input.parallel);
  for (let round = 0; round < input.rounds; round++) {
    for (const [k, v] of variants.entries()) {
      const s = all[k]!;
      const id = (i: number) => `${v.label}-p${round}-${i}`;
      const start = performance.now();
      const results = await Promise.all(
        batch.map((netns, i) =>
          call(input, v, { cmd: "ADD", id: id(i), netns, ifname: ifname(k) })
        ),
      );
      s.parallelRoundMs.push(performance.now() - start);
      for (const r of results) if (r.code !== 0) s.addFailures.push(r.stdout || r.stderr);
      s.duplicateIps.push(...duplicates(results.flatMap((r) => ipsOf(r.stdout))));
      await Promise.all(
        batch.map((netns, i) =>
          call(input, v, { cmd: "DEL", id: id(i), netns, ifname: ifname(k) })
        ),
      );
    }
  }
  if (input.trace) out.traced = await traced(input, input.trace);
  return out;
}

if (import.meta.main) {
  const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as WorkerInput;
  console.log(JSON.stringify(await runInterleaved(input)));
}
