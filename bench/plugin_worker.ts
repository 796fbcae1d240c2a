/**
 * Runs inside the bench's node netns (started by plugin_bench.ts through
 * `ip netns exec`) so that timing covers only the plugin process, exactly as
 * a runtime spawns it, and not the cost of entering the namespace.
 * Prints one JSON object with the raw samples on stdout.
 * @module
 */

/** One plugin configuration under test. */
export interface Variant {
  label: string;
  /** Absolute path of the plugin executable. */
  plugin: string;
  config: Record<string, unknown>;
}

/** Worker input. */
export interface WorkerInput {
  variants: Variant[];
  pods: string[];
  parallel: number;
  rounds: number;
}

/** Worker output per variant. */
export interface VariantSamples {
  label: string;
  addMs: number[];
  delMs: number[];
  /** Wall time of each parallel round, ms. */
  parallelRoundMs: number[];
  addFailures: string[];
  duplicateIps: string[];
  /** CPU time (user + system, the plugin and its children) per sequential ADD, ms. */
  addCpuMs: number;
  /** CPU time per sequential DEL, ms. */
  delCpuMs: number;
}

/**
 * CPU time of every reaped child of this process so far (ms): the kernel adds a
 * child's user and system time, with its own reaped children (iptables for the
 * reference), to ours when we wait for it. The counter is in clock ticks
 * (10 ms), converted from an exact total: each difference around one call is
 * off by less than a tick, and the errors average out over a 50-call phase.
 */
function childCpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) * 10;
}

interface CallResult {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** One plugin invocation. */
interface CallArgs {
  cmd: string;
  id: string;
  netns: string;
  ifname: string;
}

async function call(v: Variant, a: CallArgs): Promise<CallResult> {
  const start = performance.now();
  const out = await new Deno.Command(v.plugin, {
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: a.cmd,
      CNI_CONTAINERID: a.id,
      CNI_NETNS: a.netns,
      CNI_IFNAME: a.ifname,
      CNI_PATH: "/usr/lib/cni",
    },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(v.config)));
  await w.close();
  const res = await out.output();
  const ms = performance.now() - start;
  const dec = new TextDecoder();
  return { ms, code: res.code, stdout: dec.decode(res.stdout), stderr: dec.decode(res.stderr) };
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
    parallelRoundMs: [],
    addFailures: [],
    duplicateIps: [],
    addCpuMs: 0,
    delCpuMs: 0,
  };
}

/**
 * Runs every variant, interleaved: sample i of each variant is taken right
 * after sample i of the others, and parallel round r of each right after the
 * others', so load from outside the bench (a shared machine) drifts over all
 * variants alike instead of skewing whichever ran during a busy minute. Each
 * variant uses its own interface name, so their pods' interfaces coexist.
 */
export async function runInterleaved(input: WorkerInput): Promise<VariantSamples[]> {
  const { pods, variants } = input;
  const all = variants.map((v) => emptySamples(v.label));
  const ifname = (k: number) => `eth${k}`;
  // Warm-up: page cache, bridge creation, first-run setup.
  for (const [k, v] of variants.entries()) {
    await call(v, { cmd: "ADD", id: `${v.label}-warm`, netns: pods[0]!, ifname: ifname(k) });
    await call(v, { cmd: "DEL", id: `${v.label}-warm`, netns: pods[0]!, ifname: ifname(k) });
  }
  const seqIps: string[][] = variants.map(() => []);
  for (const [i, netns] of pods.entries()) {
    for (const [k, v] of variants.entries()) {
      const cpu = childCpuMs();
      const r = await call(v, { cmd: "ADD", id: `${v.label}-s${i}`, netns, ifname: ifname(k) });
      all[k]!.addCpuMs += childCpuMs() - cpu;
      all[k]!.addMs.push(r.ms);
      if (r.code !== 0) all[k]!.addFailures.push(r.stdout || r.stderr);
      seqIps[k]!.push(...ipsOf(r.stdout));
    }
  }
  for (const [i, netns] of pods.entries()) {
    for (const [k, v] of variants.entries()) {
      const cpu = childCpuMs();
      const r = await call(v, { cmd: "DEL", id: `${v.label}-s${i}`, netns, ifname: ifname(k) });
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
        batch.map((netns, i) => call(v, { cmd: "ADD", id: id(i), netns, ifname: ifname(k) })),
      );
      s.parallelRoundMs.push(performance.now() - start);
      for (const r of results) if (r.code !== 0) s.addFailures.push(r.stdout || r.stderr);
      s.duplicateIps.push(...duplicates(results.flatMap((r) => ipsOf(r.stdout))));
      await Promise.all(
        batch.map((netns, i) => call(v, { cmd: "DEL", id: id(i), netns, ifname: ifname(k) })),
      );
    }
  }
  return all;
}

if (import.meta.main) {
  const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as WorkerInput;
  console.log(JSON.stringify(await runInterleaved(input)));
}
