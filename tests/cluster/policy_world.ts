/**
 * The NetworkPolicy truth-table world on a simulated cluster: namespaces
 * x, y, z with pods a, b, c spread over the nodes, each serving TCP 80/81 and
 * UDP 80/81/53; policies, pods and namespaces written to the file
 * datastore's policy folder (as kubelet and the API server would report
 * them); a wait until every node's table holds exactly what the compiler
 * says; and a probe round that fills the from × to matrix per port.
 * Shared by tests/policy_e2e_test.ts and the demo.
 * @module
 */
import { stringify } from "yaml";
import { run } from "../helpers/netns.ts";
import { parseActual } from "../../src/agent/policy/actual.ts";
import { compile } from "../../src/agent/policy/compile.ts";
import { diffTable } from "../../src/agent/policy/diff.ts";
import { POLICY_TABLE } from "../../src/agent/policy/nft_model.ts";
import { ProjectedStore } from "../../src/agent/policy/source.ts";
import { resolvePolicies } from "../../src/agent/policy/resolve.ts";
import {
  type CaseStep,
  podLabels,
  type Probe,
  renderMatrix,
  XYZ_PODS,
  xyzNamespaces,
  xyzNodeOf,
  xyzPod,
} from "../../src/agent/testing/policy_cases.ts";
import type { Cluster } from "./cluster.ts";
import { until as waitFor } from "../helpers/until.ts";
import { type Proc, tail } from "./procs.ts";
import type { ProbeTarget } from "./policy_pod.ts";

const POLICY_POD = new URL("./policy_pod.ts", import.meta.url).pathname;

/** One fixture pod in the cluster. */
export interface WorldPod {
  key: string;
  node: string;
  netns: string;
  ip: string;
}

/** Result of probing one step. */
export interface StepOutcome {
  /** Per probe kind: "" when as expected, else both matrices. */
  mismatches: string[];
  /** Actual matrices, one per probe kind. */
  matrices: string[];
}

/**
 * Waits until every node's policy table holds exactly what the compiler
 * makes of these objects (read back with `nft -j list table`).
 */
export async function waitEnforced(
  cluster: Cluster,
  o: { namespaces: unknown[]; pods: unknown[]; policies: unknown[] },
  what: string,
): Promise<void> {
  const store = new ProjectedStore();
  store.replace([
    ...o.namespaces.map((obj) => ({ kind: "Namespace" as const, obj })),
    ...o.pods.map((obj) => ({ kind: "Pod" as const, obj })),
    ...o.policies.map((obj) => ({ kind: "NetworkPolicy" as const, obj })),
  ]);
  const model = resolvePolicies(store.input());
  await Promise.all(
    cluster.topo.nodes.map(({ name: node, netns }) =>
      waitFor(`node ${node} enforcing "${what}"`, async () => {
        const r = await run([
          "ip",
          "netns",
          "exec",
          netns,
          "nft",
          "-j",
          "list",
          "table",
          POLICY_TABLE.family,
          POLICY_TABLE.name,
        ]);
        if (r.code !== 0) return false;
        const actual = parseActual((JSON.parse(r.stdout) as { nftables: unknown[] }).nftables);
        return diffTable(actual, compile(model, { node })).length === 0;
      }, { ms: 15_000, everyMs: 50 })
    ),
  );
}

/** Runs `policy_pod.ts probe` from `netns`; results by target key. */
export async function probeFrom(
  netns: string,
  targets: ProbeTarget[],
  timeoutMs: number,
): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  if (targets.length === 0) return out;
  const r = await run([
    "ip",
    "netns",
    "exec",
    netns,
    Deno.execPath(),
    "run",
    "--allow-net",
    "--quiet",
    POLICY_POD,
    "probe",
    `--targets=${JSON.stringify(targets)}`,
    `--timeout-ms=${timeoutMs}`,
  ]);
  if (r.code !== 0) throw new Error(`Cannot probe from ${netns}: ${r.stderr.trim()}`);
  for (const [k, v] of Object.entries(JSON.parse(r.stdout) as Record<string, boolean>)) {
    out.set(k, v);
  }
  return out;
}

/** Starts the policy pod servers in `netns` and waits until they listen. */
export async function startPolicyServers(
  cluster: Cluster,
  netns: string,
  args: string[] = [],
): Promise<Proc> {
  const name = `srv-${netns}`;
  const proc = cluster.startServer(netns, name, [
    Deno.execPath(),
    "run",
    "--allow-net",
    "--quiet",
    POLICY_POD,
    "serve",
    ...args,
  ]);
  await waitFor(
    `servers in ${netns}`,
    async () => (await tail(`${cluster.dir}/${name}.log`)).includes("listening"),
    { ms: 20_000 },
  );
  return proc;
}

/** See the module doc. */
export class PolicyWorld {
  readonly cluster: Cluster;
  readonly nodes: string[];
  readonly pods = new Map<string, WorldPod>();

  private constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.nodes = cluster.topo.nodes.map((n) => n.name);
  }

  /** Creates the nine pods and their servers (the cluster's agents must be running). */
  static async build(cluster: Cluster): Promise<PolicyWorld> {
    const w = new PolicyWorld(cluster);
    await Promise.all(XYZ_PODS.map((k) => w.ensurePod(k)));
    return w;
  }

  /** The policy folder of the file datastore. */
  get policyDir(): string {
    return `${this.cluster.dir}/store/policy`;
  }

  /** Creates pod `key` ("x/d") when it does not exist yet, with its servers. */
  async ensurePod(key: string): Promise<WorldPod> {
    const have = this.pods.get(key);
    if (have) return have;
    const node = xyzNodeOf(key, this.nodes);
    const pod = await this.cluster.addPod(node, key.replace("/", "-"));
    await startPolicyServers(this.cluster, pod.netns);
    const wp = { key, node, netns: pod.netns, ip: pod.ip };
    this.pods.set(key, wp);
    return wp;
  }

  /** The raw objects of a step, as the API server would hold them. */
  objects(step: CaseStep): { namespaces: unknown[]; pods: unknown[]; policies: unknown[] } {
    const ips = new Map([...this.pods].map(([k, p]) => [k, p.ip]));
    return {
      namespaces: xyzNamespaces(),
      pods: [...this.pods.values()].map((p) => xyzPod(p.key, p.ip, p.node, podLabels(p.key, step))),
      policies: step.policies({ ips, clusterCidr: this.cluster.clusterCidr }),
    };
  }

  /** Writes the step's objects to the policy folder (each file atomically) and waits until every node enforces them. */
  async apply(step: CaseStep): Promise<void> {
    for (const k of step.extraPods ?? []) await this.ensurePod(k);
    const o = this.objects(step);
    await Deno.mkdir(this.policyDir, { recursive: true });
    for (const [file, list] of Object.entries(o)) {
      const tmp = `${this.policyDir}/.${file}.tmp`;
      await Deno.writeTextFile(tmp, stringify({ apiVersion: "v1", kind: "List", items: list }));
      await Deno.rename(tmp, `${this.policyDir}/${file}.yaml`);
    }
    await waitEnforced(this.cluster, o, step.what);
  }

  /** Runs one probe process per source, all at once; results by "from|to|port/proto". */
  async #probeRound(
    sources: string[],
    targets: (from: string) => ProbeTarget[],
    timeoutMs: number,
  ) {
    const out = new Map<string, boolean>();
    await Promise.all(sources.map(async (from) => {
      const netns = this.pods.get(from)?.netns ?? this.cluster.node(from).netns;
      for (const [k, v] of await probeFrom(netns, targets(from), timeoutMs)) out.set(k, v);
    }));
    return out;
  }

  /** Probes the step's matrix; a disagreeing probe is retried once with a longer timeout (slowness, not policy). */
  async probe(step: CaseStep, opts: { timeoutMs?: number } = {}): Promise<StepOutcome> {
    const pods = [...this.pods.keys()].sort();
    const sources = [...pods, ...(step.nodeSources ? this.nodes : [])];
    const nodeOf = (k: string) => this.pods.get(k)!.node;
    const key = (f: string, t: string, p: Probe) => `${f}|${t}|${p.port}/${p.protocol}`;
    const want = (f: string, t: string, p: Probe) => f === t || step.allowed(f, t, p, nodeOf);
    const targetsOf = (only?: Set<string>) => (from: string): ProbeTarget[] =>
      pods.filter((t) => t !== from).flatMap((t) =>
        step.probes.map((p) => ({
          key: key(from, t, p),
          ip: this.pods.get(t)!.ip,
          port: p.port,
          protocol: p.protocol,
        }))
      ).filter((x) => !only || only.has(x.key));
    const got = await this.#probeRound(sources, targetsOf(), opts.timeoutMs ?? 1000);
    const wrong = new Set(
      [...got].filter(([k, v]) => {
        const [f, t, pp] = k.split("|") as [string, string, string];
        const p = step.probes.find((x) => `${x.port}/${x.protocol}` === pp)!;
        return v !== want(f, t, p);
      }).map(([k]) => k),
    );
    if (wrong.size > 0) {
      const again = await this.#probeRound(sources, targetsOf(wrong), 3000);
      for (const [k, v] of again) got.set(k, v);
    }
    const mismatches: string[] = [];
    const matrices: string[] = [];
    for (const p of step.probes) {
      const actual = (f: string, t: string) => f === t || got.get(key(f, t, p)) === true;
      const a = renderMatrix(sources, pods, actual);
      const e = renderMatrix(sources, pods, (f, t) => want(f, t, p));
      matrices.push(`${p.port}/${p.protocol}\n${a}`);
      if (a !== e) {
        mismatches.push(`${step.what}: ${p.port}/${p.protocol}\nexpected:\n${e}\nactual:\n${a}`);
      }
    }
    return { mismatches, matrices };
  }
}
