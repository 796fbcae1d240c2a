/**
 * Runs inside the IPPool benchmark's node netns (started by ippool_bench.ts
 * through `ip netns exec`), so timings cover only the plugin process as a
 * runtime spawns it. Variants are interleaved pod by pod, so drift on the
 * shared machine affects both alike. Prints one JSON object on stdout.
 * @module
 */

/** One plugin configuration under test. */
export interface IppoolVariant {
  label: string;
  plugin: string;
  config: Record<string, unknown>;
  /** Pod netns paths of this variant (one eth0 per pod, so each variant has its own). */
  pods: string[];
}

/** Worker input. */
export interface IppoolWorkerInput {
  variants: IppoolVariant[];
  parallel: number;
  rounds: number;
}

/** Raw samples of one variant. */
export interface IppoolSamples {
  label: string;
  addMs: number[];
  delMs: number[];
  parallelRoundMs: number[];
  failures: string[];
  duplicateIps: string[];
}

async function call(v: IppoolVariant, cmd: string, suffix: string, netns: string, pod: string) {
  // A container ID is [a-zA-Z0-9][a-zA-Z0-9_.-]*: the label without its other characters.
  const id = `${v.label.replace(/[^a-zA-Z0-9]/g, "")}-${suffix}`;
  const start = performance.now();
  const child = new Deno.Command(v.plugin, {
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: id,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_PATH: "/usr/lib/cni",
      CNI_ARGS: `K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod}`,
    },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(v.config)));
  await w.close();
  const out = await child.output();
  const ms = performance.now() - start;
  const stdout = new TextDecoder().decode(out.stdout);
  let ip: string | undefined;
  try {
    ip = (JSON.parse(stdout) as { ips?: { address: string }[] }).ips?.[0]?.address;
  } catch {
    // error output: kept in failures
  }
  return { ms, ok: out.code === 0, ip, text: stdout || new TextDecoder().decode(out.stderr) };
}

function duplicates(ips: (string | undefined)[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const ip of ips) if (ip) (seen.has(ip) ? dup : seen).add(ip);
  return [...dup];
}

async function main(input: IppoolWorkerInput): Promise<IppoolSamples[]> {
  const s = input.variants.map((v) => ({
    label: v.label,
    addMs: [] as number[],
    delMs: [] as number[],
    parallelRoundMs: [] as number[],
    failures: [] as string[],
    duplicateIps: [] as string[],
  }));
  for (const v of input.variants) {
    // Warm-up: page cache, bridge creation.
    await call(v, "ADD", "warm", v.pods[0]!, "warm");
    await call(v, "DEL", "warm", v.pods[0]!, "warm");
  }
  const ips: (string | undefined)[][] = input.variants.map(() => []);
  const count = Math.min(...input.variants.map((v) => v.pods.length));
  for (let i = 0; i < count; i++) {
    for (const [k, v] of input.variants.entries()) {
      const r = await call(v, "ADD", `s${i}`, v.pods[i]!, `s${i}`);
      s[k]!.addMs.push(r.ms);
      ips[k]!.push(r.ip);
      if (!r.ok) s[k]!.failures.push(r.text);
    }
  }
  for (let i = 0; i < count; i++) {
    for (const [k, v] of input.variants.entries()) {
      const r = await call(v, "DEL", `s${i}`, v.pods[i]!, `s${i}`);
      s[k]!.delMs.push(r.ms);
      if (!r.ok) s[k]!.failures.push(r.text);
    }
  }
  ips.forEach((list, k) => s[k]!.duplicateIps.push(...duplicates(list)));
  for (let round = 0; round < input.rounds; round++) {
    for (const [k, v] of input.variants.entries()) {
      const batch = v.pods.slice(0, input.parallel);
      const start = performance.now();
      const res = await Promise.all(
        batch.map((ns, i) => call(v, "ADD", `p${round}-${i}`, ns, `p${round}-${i}`)),
      );
      s[k]!.parallelRoundMs.push(performance.now() - start);
      for (const r of res) if (!r.ok) s[k]!.failures.push(r.text);
      s[k]!.duplicateIps.push(...duplicates(res.map((r) => r.ip)));
      await Promise.all(
        batch.map((ns, i) => call(v, "DEL", `p${round}-${i}`, ns, `p${round}-${i}`)),
      );
    }
  }
  return s;
}

if (import.meta.main) {
  const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as IppoolWorkerInput;
  console.log(JSON.stringify(await main(input)));
}
