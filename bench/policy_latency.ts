/**
 * Policy benchmark, latency: time from an API event to enforcement. The
 * Kubernetes policy source (client-node informers) against the test
 * list/watch server, the enforcer loop with the agent's debounce, and the
 * real nft in a throwaway namespace, all as the agent runs them; an
 * `nft monitor` in that namespace sees the kernel change. Each change
 * relabels a pod of this node so a different set of policies selects it
 * (its verdict-map element moves to another chain); the time runs from the
 * write to the API server until the monitor prints the new element.
 * @module
 */
import { RealClock } from "../src/system/clock.ts";
import { ExecNftJson } from "../src/system/nft_json.ts";
import { KubernetesPolicySource } from "../src/datastore/kubernetes/policy.ts";
import { loadKubeConfig } from "../src/datastore/kubernetes/config.ts";
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

/** Latency samples (ms) of `changes` relabels in a cluster of `shape`. */
export async function policyLatency(
  shape: SynthOptions,
  changes: number,
): Promise<ReturnType<typeof stats>> {
  const c = synthCluster(shape);
  const server = await startApiServer({ extraResources: [NP] });
  const { kubeConfig } = loadKubeConfig({ kubeconfigPath: server.kubeconfigPath });
  const transport = fetchTransport(kubeConfig);
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
        onPass: () => passes++,
      });
      let monitor: Deno.ChildProcess | undefined;
      let reader: Promise<void> | undefined;
      try {
        const until = Date.now() + 60_000;
        while (passes === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        // The monitor starts after the table is built: a burst of thousands of element
        // notifications would overflow its socket and end it.
        monitor = new Deno.Command("ip", {
          // nft buffers its stdout in a pipe: line-buffer it so each event arrives at once.
          args: ["netns", "exec", ns, "stdbuf", "-oL", "nft", "monitor", "elements"],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const waiters: { match: (l: string) => boolean; resolve: () => void }[] = [];
        const m = monitor;
        reader = (async () => {
          let buf = "";
          for await (const chunk of m.stdout.pipeThrough(new TextDecoderStream())) {
            buf += chunk;
            let i;
            while ((i = buf.indexOf("\n")) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              for (const w of [...waiters]) {
                if (w.match(line)) {
                  waiters.splice(waiters.indexOf(w), 1);
                  w.resolve();
                }
              }
            }
          }
        })();
        // The monitor subscribes a little after it starts: poke a sentinel table until it reports.
        const ready = new Promise<void>((resolve) =>
          waiters.push({ match: (l) => l.includes("hgbench-sentinel"), resolve })
        );
        let ok = false;
        ready.then(() => ok = true);
        for (let i = 0; !ok && i < 200; i++) {
          await run(["ip", "netns", "exec", ns, "nft", "-f", "-"], {
            stdin:
              `add table inet hgbench-sentinel\nadd set inet hgbench-sentinel s { type ipv4_addr; }\n` +
              `flush set inet hgbench-sentinel s\nadd element inet hgbench-sentinel s { 192.0.2.${
                1 + (i % 200)
              } }\n`,
          });
          await Promise.race([ready, new Promise((r) => setTimeout(r, 50))]);
        }
        await run([
          "ip",
          "netns",
          "exec",
          ns,
          "nft",
          "delete",
          "table",
          "inet",
          "hgbench-sentinel",
        ]);
        // A pod of ns0 on this node labelled app=a0; a1 and a3 are selected by different policies
        // whose rules name no ports by name (nft 1.0.6 monitor misprints, and can lose,
        // changes of concatenated interval sets).
        const victim = [...c.nodeOf].find(([k, n]) =>
          n === "n0" && k.startsWith("ns0/") && Number(k.slice(5)) % 10 === 0
        )![0];
        const [vns, vname] = victim.split("/") as [string, string];
        const ip = c.ips.get(victim)!;
        const samples: number[] = [];
        let polled = 0;
        // The chain the pod's element jumps to, read from the kernel.
        const target = async () => {
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
          const elems = (JSON.parse(r.stdout || "{}").nftables ?? []).find((x: { map?: unknown }) =>
            x.map
          )?.map?.elem ?? [];
          const e = (elems as [unknown, { jump?: { target: string } }][]).find((x) =>
            x[0] === ip
          );
          return e?.[1]?.jump?.target;
        };
        let before = await target();
        for (let i = 0; i < changes; i++) {
          const app = i % 2 ? "a3" : "a1";
          let done = false;
          const seen = new Promise<void>((resolve) =>
            waiters.push({
              match: (l) =>
                l.startsWith("add element") && l.includes(" ingress4 ") && l.includes(`${ip} :`),
              resolve,
            })
          );
          // nft monitor can lose events (it misprints concatenated intervals); a slow poll
          // of the map is the fallback, so a lost line costs precision, not the run.
          const poll = (async () => {
            await new Promise((r) => setTimeout(r, 250));
            while (!done) {
              const now = await target();
              if (now !== undefined && now !== before) {
                polled++;
                return;
              }
              await new Promise((r) => setTimeout(r, 20));
            }
          })();
          const t0 = performance.now();
          server.put("pods", synthPod(vns, vname, ip, "n0", { app, tier: "fe" }) as never);
          await Promise.race([
            Promise.race([seen, poll]),
            new Promise((_, rej) =>
              setTimeout(() => rej(new Error(`Cannot see change ${i} enforced`)), 10_000)
            ),
          ]);
          samples.push(performance.now() - t0);
          done = true;
          await poll;
          waiters.splice(0, waiters.length);
          before = await target();
          await new Promise((r) => setTimeout(r, 20));
        }
        if (polled > 0) {
          console.error(`policy latency: ${polled} of ${changes} changes seen by polling`);
        }
        return stats(samples);
      } finally {
        ac.abort();
        await loop;
        try {
          monitor?.kill("SIGTERM");
        } catch {
          // gone
        }
        await monitor?.status;
        await reader?.catch(() => {});
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
