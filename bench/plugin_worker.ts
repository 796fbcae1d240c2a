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
 * reference), to ours when we wait for it. Clock ticks: fine over a 50-call phase.
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

async function call(
  v: Variant,
  cmd: string,
  id: string,
  netns: string,
): Promise<CallResult> {
  const start = performance.now();
  const out = await new Deno.Command(v.plugin, {
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: id,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
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

async function runVariant(v: Variant, input: WorkerInput): Promise<VariantSamples> {
  const s: VariantSamples = {
    label: v.label,
    addMs: [],
    delMs: [],
    parallelRoundMs: [],
    addFailures: [],
    duplicateIps: [],
    addCpuMs: NaN,
    delCpuMs: NaN,
  };
  const pods = input.pods;
  // Warm-up: page cache, bridge creation, first-run setup.
  await call(v, "ADD", `${v.label}-warm`, pods[0]!);
  await call(v, "DEL", `${v.label}-warm`, pods[0]!);
  const seqIps: string[] = [];
  const cpu0 = childCpuMs();
  for (const [i, ns] of pods.entries()) {
    const r = await call(v, "ADD", `${v.label}-s${i}`, ns);
    s.addMs.push(r.ms);
    if (r.code !== 0) s.addFailures.push(r.stdout || r.stderr);
    seqIps.push(...ipsOf(r.stdout));
  }
  const cpu1 = childCpuMs();
  for (const [i, ns] of pods.entries()) {
    s.delMs.push((await call(v, "DEL", `${v.label}-s${i}`, ns)).ms);
  }
  s.addCpuMs = (cpu1 - cpu0) / pods.length;
  s.delCpuMs = (childCpuMs() - cpu1) / pods.length;
  s.duplicateIps.push(...duplicates(seqIps));
  for (let round = 0; round < input.rounds; round++) {
    const batch = pods.slice(0, input.parallel);
    const start = performance.now();
    const results = await Promise.all(
      batch.map((ns, i) => call(v, "ADD", `${v.label}-p${round}-${i}`, ns)),
    );
    s.parallelRoundMs.push(performance.now() - start);
    for (const r of results) if (r.code !== 0) s.addFailures.push(r.stdout || r.stderr);
    s.duplicateIps.push(...duplicates(results.flatMap((r) => ipsOf(r.stdout))));
    await Promise.all(batch.map((ns, i) => call(v, "DEL", `${v.label}-p${round}-${i}`, ns)));
  }
  return s;
}

if (import.meta.main) {
  const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as WorkerInput;
  const out: VariantSamples[] = [];
  for (const v of input.variants) out.push(await runVariant(v, input));
  console.log(JSON.stringify(out));
}
