/**
 * Policy benchmark, latency: time from an API event to enforcement. The
 * Kubernetes policy source (projected list/watches) against the test
 * list/watch server, the enforcer loop with the agent's debounce, and the
 * real nft in a throwaway namespace, all as the agent runs them. Each change
 * relabels a pod of this node so a different set of policies selects it (its
 * verdict-map element moves to another chain); the time runs from the write
 * to the API server until the `nft -f` transaction carrying the change has
 * been committed by the kernel (nft exits after the commit). After every
 * sample the map is read back from the kernel to check the element moved.
 * (`nft monitor` was tried as the observer: nft 1.0.6 misprints
 * concatenated interval elements and loses events under load.)
 * @module
 */
import { RealClock } from "../src/system/clock.ts";
import { ExecNftJson } from "../src/system/nft_json.ts";
import { KubernetesPolicySource } from "../src/datastore/kubernetes/policy.ts";
import { loadKubeAccess } from "../src/datastore/kubernetes/config.ts";
import { fetchTransport } from "../src/datastore/kubernetes/transport.ts";
import { runPolicyEnforcer } from "../src/agent/policy/enforcer.ts";
import { memoryLogger } from "../src/system/log.ts";
import { Metrics } from "../src/agent/observe/metrics.ts";
import { startApiServer } from "../tests/helpers/apiserver.ts";
import { run, withNetns } from "../tests/helpers/netns.ts";
import { NetnsExec } from "../tests/helpers/netns_exec.ts";
import { synthCluster, type SynthOptions, synthPod } from "./policy_synth.ts";
import { fmt, stats } from "./table.ts";

const NP = {
  group: "networking.k8s.io",
  version: "v1",
  resource: "networkpolicies",
  kind: "NetworkPolicy",
  namespaced: true,
} as const;

/** The chain the verdict map `ingress4` sends `ip` to, read from the kernel. */
async function targetOf(ns: string, ip: string): Promise<string | undefined> {
  const r = await run([
    "ip",
    "netns",
    "exec",
    ns,
    "nft",
    "-j",
    "list",
    "map",
    "inet",
    "hostgate-policy",
    "ingress4",
  ]);
  const items = (JSON.parse(r.stdout || "{}") as { nftables?: { map?: { elem?: unknown[] } }[] })
    .nftables ?? [];
  const elems = (items.find((x) => x.map)?.map?.elem ?? []) as [
    unknown,
    { jump?: { target: string } },
  ][];
  return elems.find((e) => e[0] === ip)?.[1]?.jump?.target;
}

/** Latency samples (ms) of `changes` relabels in a cluster of `shape`. */
export async function policyLatency(
  shape: SynthOptions,
  changes: number,
): Promise<ReturnType<typeof stats>> {
  const c = synthCluster(shape);
  const server = await startApiServer({ extraResources: [NP] });
  const transport = fetchTransport(loadKubeAccess({ kubeconfigPath: server.kubeconfigPath }));
  for (const o of c.namespaces) server.put("namespaces", o as never);
  for (const o of c.pods) server.put("pods", o as never);
  for (const o of c.policies) server.put("networkpolicies", o as never);
  const source = new KubernetesPolicySource({
    transport,
    clock: new RealClock(),
    random: Math.random,
    backoff: { initialMs: 100, maxMs: 1000 },
    log: () => {},
  });
  try {
    return await withNetns("hgpl", async (set) => {
      const ns = await set.add("node");
      const ac = new AbortController();
      let applied: ((at: number) => void) | undefined;
      let passes = 0;
      const loop = runPolicyEnforcer({
        source,
        nft: new ExecNftJson({ exec: new NetnsExec(ns) }),
        nodeName: "n0",
        clock: new RealClock(),
        log: memoryLogger(),
        metrics: new Metrics(),
        signal: ac.signal,
        debounceMs: 10,
        resyncIntervalMs: 30_000,
        retryMinMs: 100,
        retryMaxMs: 1000,
        onPass: (r) => {
          passes++;
          if (r.commands > 0) applied?.(performance.now());
        },
      });
      try {
        const until = Date.now() + 60_000;
        while (passes === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        // A pod of ns0 on this node labelled app=a0; a1 and a3 are selected by different policies.
        const victim = [...c.nodeOf].find(([k, n]) =>
          n === "n0" && k.startsWith("ns0/") && Number(k.slice(5)) % 10 === 0
        )![0];
        const [vns, vname] = victim.split("/") as [string, string];
        const ip = c.ips.get(victim)!;
        const samples: number[] = [];
        let before = await targetOf(ns, ip);
        for (let i = 0; i < changes; i++) {
          const app = i % 2 ? "a3" : "a1";
          const done = new Promise<number>((resolve) =>
            applied = resolve
          );
          const t0 = performance.now();
          server.put("pods", synthPod(vns, vname, ip, "n0", { app, tier: "fe" }) as never);
          const t1 = await Promise.race([
            done,
            new Promise<number>((_, rej) =>
              setTimeout(() => rej(new Error(`Cannot see change ${i} applied`)), 10_000)
            ),
          ]);
          applied = undefined;
          samples.push(t1 - t0);
          const now = await targetOf(ns, ip);
          if (!now || now === before) {
            throw new Error(`Cannot bench: change ${i} applied but ${ip} still jumps to ${now}`);
          }
          before = now;
          await new Promise((r) => setTimeout(r, 20));
        }
        return stats(samples);
      } finally {
        ac.abort();
        await loop;
      }
    });
  } finally {
    await source.close();
    transport.close();
    await server.close();
  }
}

/** Rows of the latency table for the default sizes. */
export async function policyLatencyRows(changes = 120): Promise<string[][]> {
  const rows: string[][] = [];
  for (
    const [label, shape] of [
      ["1,000 pods / 100 policies / 10 nodes", {
        namespaces: 20,
        podsPerNamespace: 50,
        policiesPerNamespace: 5,
        nodes: 10,
      }],
      ["10,000 pods / 1,000 policies / 100 nodes", {
        namespaces: 100,
        podsPerNamespace: 100,
        policiesPerNamespace: 10,
        nodes: 100,
      }],
    ] as const
  ) {
    const s = await policyLatency(shape, changes);
    rows.push([
      label,
      String(s.n),
      fmt(s.p50),
      fmt(s.p99),
      fmt(s.max),
      s.p99 <= 100 ? "<= 100 ms ok" : "> 100 ms MISSED",
    ]);
  }
  return rows;
}
