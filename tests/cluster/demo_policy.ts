/**
 * The demo's NetworkPolicy section: the demo pods get labels (pods "a"
 * app=web, pods "b" app=client) and one policy, written as YAML into the
 * file datastore's policy folder, exactly what `kubectl get -o yaml` would
 * print; then a TCP 8080 matrix measured in the namespaces is printed beside
 * the matrix `policy explain`'s evaluator predicts, and one explanation from
 * the real `hostgate-agent policy explain`. Returns the cells that differ.
 * @module
 */
import { stringify } from "yaml";
import { run } from "../helpers/netns.ts";
import { evaluate } from "../../src/agent/policy/evaluate.ts";
import { ProjectedStore } from "../../src/agent/policy/source.ts";
import { resolvePolicies } from "../../src/agent/policy/resolve.ts";
import type { Cluster, Pod } from "./cluster.ts";
import { AGENT_BIN } from "./cluster_types.ts";
import { probeFrom, startPolicyServers, waitEnforced } from "./policy_world.ts";
import { stopProc } from "./procs.ts";

const PORT = 8080;

function objects(pods: Pod[]) {
  const name = (p: Pod) => p.label.replace("/", "-");
  return {
    namespaces: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } }],
    pods: pods.map((p) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        namespace: "demo",
        name: name(p),
        labels: { app: p.name === "a" ? "web" : "client" },
      },
      spec: {
        nodeName: p.node.name,
        containers: [{ name: "web", ports: [{ name: "http", containerPort: PORT }] }],
      },
      status: { phase: "Running", podIP: p.ip },
    })),
    policies: [{
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { namespace: "demo", name: "web-from-client" },
      spec: {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [{
          from: [{ podSelector: { matchLabels: { app: "client" } } }],
          ports: [{ port: "http" }],
        }],
      },
    }],
  };
}

function matrix(pods: Pod[], cell: (f: Pod, t: Pod) => string): string[] {
  const w = Math.max(...pods.map((p) => p.label.length)) + 1;
  return [
    " ".repeat(w) + pods.map((p) => p.label.padStart(w)).join(""),
    ...pods.map((f) => f.label.padEnd(w) + pods.map((t) => cell(f, t).padStart(w)).join("")),
  ];
}

/** Runs the section; `out` prints a line. Returns the number of cells where measurement and explain differ. */
export async function showPolicy(
  c: Cluster,
  pods: Pod[],
  out: (l?: string) => void,
): Promise<number> {
  const o = objects(pods);
  const dir = `${c.dir}/store/policy`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/.demo.yaml.tmp`,
    [...o.namespaces, ...o.pods, ...o.policies].map((x) => stringify(x)).join("---\n"),
  );
  await Deno.rename(`${dir}/.demo.yaml.tmp`, `${dir}/demo.yaml`);
  // Stopped again at the end: a kept cluster (--keep) holds only its agents.
  const servers = await Promise.all(
    pods.map((p) => startPolicyServers(c, p.netns, [`--tcp=${PORT}`, "--udp="])),
  );
  try {
    return await section(c, pods, o, out);
  } finally {
    await Promise.all(servers.map((p) => stopProc(p)));
  }
}

async function section(
  c: Cluster,
  pods: Pod[],
  o: ReturnType<typeof objects>,
  out: (l?: string) => void,
): Promise<number> {
  const dir = `${c.dir}/store/policy`;
  await waitEnforced(c, o, "the demo policy");

  const key = (f: Pod, t: Pod) => `${f.label}>${t.label}`;
  const measured = new Map<string, boolean>();
  await Promise.all(pods.map(async (f) => {
    const targets = pods.filter((t) => t !== f).map((t) => ({
      key: key(f, t),
      ip: t.ip,
      port: PORT,
      protocol: "TCP" as const,
    }));
    for (const [k, v] of await probeFrom(f.netns, targets, 1500)) measured.set(k, v);
  }));
  const store = new ProjectedStore();
  store.replace([
    ...o.namespaces.map((obj) => ({ kind: "Namespace" as const, obj })),
    ...o.pods.map((obj) => ({ kind: "Pod" as const, obj })),
    ...o.policies.map((obj) => ({ kind: "NetworkPolicy" as const, obj })),
  ]);
  const model = resolvePolicies(store.input());
  const nodes = new Map(c.topo.nodes.map((n) => [n.name, [n.ip]]));
  let differ = 0;
  // "." allowed, "X" denied (not the ping matrix's marks: those count reachability).
  const left = matrix(pods, (f, t) => f === t ? "·" : measured.get(key(f, t)) ? "." : "X");
  const right = matrix(pods, (f, t) => {
    if (f === t) return "·";
    const want =
      evaluate(model, { src: f.ip, dst: t.ip, protocol: "TCP", port: PORT }, nodes).allowed;
    if (want !== measured.get(key(f, t))) differ++;
    return want ? "." : "X";
  });
  out(
    `\nNetworkPolicy demo/web-from-client: pods a (app=web) admit only pods b (app=client) on port http (${PORT}/TCP)`,
  );
  out(`(objects in ${dir}/demo.yaml; every node enforces them in nft table inet hostgate-policy)`);
  const head = "measured (TCP connect, row to column; . allowed, X denied)";
  const w = Math.max(left[0]!.length, head.length) + 4;
  out(head.padEnd(w) + "policy explain predicts");
  left.forEach((l, i) => out(l.padEnd(w) + right[i]));
  const from = pods.find((p) => p.name === "b")!;
  const to = pods.find((p) => p.name === "a" && p.node !== from.node) ??
    pods.find((p) => p.name === "a")!;
  const other = pods.find((p) => p.name === "a" && p !== to)!;
  for (const src of [from, other]) {
    const argv = [
      AGENT_BIN,
      "policy",
      "explain",
      "--datastore=file",
      `--store-dir=${c.dir}/store`,
      `--from=demo/${src.label.replace("/", "-")}`,
      `--to=demo/${to.label.replace("/", "-")}`,
      `--port=${PORT}/TCP`,
    ];
    const r = await run(argv);
    out(
      `\n$ hostgate-agent policy explain --from demo/${src.label.replace("/", "-")} --to demo/${
        to.label.replace("/", "-")
      } --port ${PORT}/TCP`,
    );
    out((r.stdout || r.stderr).trimEnd());
  }
  out(
    `\n${differ === 0 ? "measured and explained agree on every cell" : `${differ} cells DIFFER`}`,
  );
  return differ;
}
