/**
 * IPPool benchmark (issue 6): what the cluster-wide `hostgate-ippool` IPAM
 * costs on the per-pod path, next to the built-in `hostgate-local` in the same
 * run: ADD and DEL latency over sequential pods (with pod names, so the
 * sticky lookup runs), parallel ADD throughput, and the API requests per pod.
 * The test apiserver runs in this process but listens inside the node netns
 * (127.0.0.1 there), so the plugin reaches it without a hop through the root
 * netns; a real API server adds its network round trips and a TLS handshake.
 * @module
 */
import { type ApiServer, startApiServer } from "../tests/helpers/apiserver.ts";
import {
  listenInNetns,
  makeTestCerts,
  type NetnsListener,
  writeKubeconfig,
} from "../tests/helpers/apiserver_netns.ts";
import { withNetns } from "../tests/helpers/netns.ts";
import type { IppoolSamples, IppoolVariant, IppoolWorkerInput } from "./ippool_worker.ts";
import { fmt, ratio, stats, table } from "./table.ts";

/** Options of the IPPool benchmark. */
export interface IppoolBenchOptions {
  pods?: number;
  parallel?: number;
  rounds?: number;
}

const ROOT = new URL("../", import.meta.url).pathname;

function variants(dir: string, pods: Record<string, string[]>, tls: boolean): IppoolVariant[] {
  const base = { cniVersion: "1.1.0", type: "hostgate", isDefaultGateway: true };
  return [
    {
      label: "hostgate-local",
      plugin: `${ROOT}dist/bundle/hostgate`,
      pods: pods.local!,
      config: {
        ...base,
        name: "bench-local",
        bridge: "hgpo-bl",
        ipam: { type: "hostgate-local", subnet: "10.98.0.0/24", dataDir: `${dir}/ipam` },
      },
    },
    ...["http", ...(tls ? ["https"] : [])].map((scheme) => ({
      label: `hostgate-ippool (${scheme})`,
      plugin: `${ROOT}dist/bundle/hostgate`,
      pods: pods[scheme]!,
      config: {
        ...base,
        name: `bench-ippool-${scheme}`,
        bridge: `hgpo-b${scheme === "http" ? "p" : "s"}`,
        ipam: {
          type: "hostgate-ippool",
          pool: `bench-${scheme}`,
          kubeconfig: `${dir}/kubeconfig-${scheme}`,
          nodeName: "bench-node",
        },
      },
    })),
  ];
}

/** Runs the suite and returns the printed table. */
export async function ippoolBench(opts: IppoolBenchOptions = {}): Promise<string> {
  const podCount = opts.pods ?? 50;
  const server = await startApiServer();
  const dir = await Deno.makeTempDir({ prefix: "hgpo-bench-" });
  try {
    for (const [scheme, cidr] of [["http", "10.99.0.0/24"], ["https", "10.99.1.0/24"]]) {
      server.put("ippools.hostgate.io", { metadata: { name: `bench-${scheme}` }, spec: { cidr } });
    }
    const certs = await makeTestCerts(dir);
    return await withNetns("hgpob", async (ns) => {
      const node = await ns.add("node");
      const listeners: NetnsListener[] = [];
      try {
        const plain = listenInNetns(server, ns.path(node));
        listeners.push(plain);
        await writeKubeconfig(`${dir}/kubeconfig-http`, plain.url, server.token);
        if (certs) {
          const tls = listenInNetns(server, ns.path(node), certs);
          listeners.push(tls);
          await writeKubeconfig(`${dir}/kubeconfig-https`, tls.url, server.token, certs.caPem);
        }
        const pods: Record<string, string[]> = { local: [], http: [], https: [] };
        const short: Record<string, string> = { local: "l", http: "h", https: "s" };
        for (let i = 0; i < podCount; i++) {
          for (const k of certs ? ["local", "http", "https"] : ["local", "http"]) {
            pods[k]!.push(ns.path(await ns.add(`${short[k]}${i}`)));
          }
        }
        const input: IppoolWorkerInput = {
          variants: variants(dir, pods, certs !== undefined),
          parallel: opts.parallel ?? 20,
          rounds: opts.rounds ?? 3,
        };
        server.requests.length = 0;
        const out = await ns.sh(node, [
          Deno.execPath(),
          "run",
          "--allow-all",
          `${ROOT}bench/ippool_worker.ts`,
        ], { stdin: JSON.stringify(input) });
        return render(JSON.parse(out) as IppoolSamples[], input, server);
      } finally {
        for (const l of listeners) await l.close();
      }
    });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function render(samples: IppoolSamples[], input: IppoolWorkerInput, server: ApiServer): string {
  const local = samples.find((s) => s.label === "hostgate-local")!;
  const pools = samples.filter((s) => s !== local);
  const thr = (s: IppoolSamples) => {
    const total = s.parallelRoundMs.reduce((a, b) => a + b, 0);
    return (input.parallel * s.parallelRoundMs.length) / (total / 1000);
  };
  type Row = [string, (s: IppoolSamples) => number, number];
  const rows: Row[] = [
    ["ADD p50 ms", (s) => stats(s.addMs).p50, 1],
    ["ADD p95 ms", (s) => stats(s.addMs).p95, 1],
    ["ADD mean ms", (s) => stats(s.addMs).mean, 1],
    ["DEL p50 ms", (s) => stats(s.delMs).p50, 1],
    ["DEL p95 ms", (s) => stats(s.delMs).p95, 1],
    [`parallel ADD/s (${input.parallel}-way)`, thr, 1],
    ["failed calls", (s) => s.failures.length, 0],
    ["duplicate IPs", (s) => s.duplicateIps.length, 0],
  ];
  const body = rows.map(([name, f, d]) => [
    name,
    fmt(f(local), d),
    ...pools.flatMap((p) => [fmt(f(p), d), ratio(f(p), f(local))]),
  ]);
  // Every ippool ADD reads its pool exactly once: that count is the number of ADDs.
  const adds = server.count({ verb: "get", resource: "ippools" });
  const byVerb = new Map<string, number>();
  for (const r of server.requests) {
    const k = `${r.verb} ${r.resource}${r.code === 409 ? " (409)" : ""}`;
    byVerb.set(k, (byVerb.get(k) ?? 0) + 1);
  }
  const perPod = [...byVerb.entries()].sort().map(([k, n]) => `${k} ${fmt(n / adds, 2)}`);
  const failures = samples.flatMap((s) => s.failures).slice(0, 3);
  return [
    `IPPool IPAM: ${local.addMs.length} pods sequential (with pod names, variants interleaved), ` +
    `${input.parallel}-way parallel ADD x ${input.rounds} rounds; test API server on 127.0.0.1 ` +
    `of the node netns (plain HTTP, and HTTPS with a CA-signed certificate as in a cluster)`,
    table(
      ["metric", "hostgate-local", ...pools.flatMap((p) => [p.label, "/local"])],
      body,
    ),
    `API requests per pod (ADD + DEL), over ${adds} ADDs: ${perPod.join(", ")}`,
    ...(failures.length ? ["first failures:", ...failures] : []),
  ].join("\n");
}
