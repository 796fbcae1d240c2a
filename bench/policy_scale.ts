/**
 * Policy benchmark, scale: a synthetic cluster (default 10,000 pods in 100
 * namespaces over 100 nodes, 1,000 policies) projected, resolved for one
 * node, compiled, and applied to the real nft in a throwaway namespace as
 * one transaction; then a verified pass that writes nothing and a one-pod
 * change. Also the same cluster with every pod on the one node (the most
 * map elements and chains a node can be asked for).
 * @module
 */
import { RealClock } from "../src/system/clock.ts";
import { ExecNftJson } from "../src/system/nft_json.ts";
import { compile } from "../src/agent/policy/compile.ts";
import { modelSize } from "../src/agent/policy/nft_model.ts";
import { ProjectedStore } from "../src/agent/policy/source.ts";
import { resolvePolicies } from "../src/agent/policy/resolve.ts";
import { PolicySync } from "../src/agent/policy/sync.ts";
import { withNetns } from "../tests/helpers/netns.ts";
import { NetnsExec } from "../tests/helpers/netns_exec.ts";
import { synthCluster, type SynthOptions, synthPod } from "./policy_synth.ts";
import { fmt, table } from "./table.ts";

/** One measured configuration. */
export interface ScaleRow {
  label: string;
  pods: number;
  policies: number;
  projectMs: number;
  compileMs: number;
  applyMs: number;
  verifyMs: number;
  deltaMs: number;
  rules: number;
  elements: number;
}

const now = () => performance.now();

async function measure(label: string, o: SynthOptions, node: string): Promise<ScaleRow> {
  const c = synthCluster(o);
  let t = now();
  const store = new ProjectedStore();
  store.replace([
    ...c.namespaces.map((obj) => ({ kind: "Namespace" as const, obj })),
    ...c.pods.map((obj) => ({ kind: "Pod" as const, obj })),
    ...c.policies.map((obj) => ({ kind: "NetworkPolicy" as const, obj })),
  ]);
  const projectMs = now() - t;
  return await withNetns("hgpb", async (set) => {
    const ns = await set.add("node");
    const sync = new PolicySync({
      nft: new ExecNftJson({ exec: new NetnsExec(ns) }),
      clock: new RealClock(),
    });
    t = now();
    const desired = compile(resolvePolicies(store.input(), { node }), { node });
    const compileMs = now() - t;
    t = now();
    await sync.sync(desired);
    const applyMs = now() - t;
    t = now();
    const again = await sync.sync(desired, { verify: true });
    const verifyMs = now() - t;
    if (again.commands !== 0) {
      throw new Error(`Cannot bench: a second pass wrote ${again.commands} commands`);
    }
    // One pod of this node relabelled: resolve, compile, diff, apply.
    const victim = [...c.nodeOf].find(([, n]) => n === node)![0];
    const [vns, vname] = victim.split("/") as [string, string];
    t = now();
    store.apply(
      "Pod",
      "set",
      synthPod(vns, vname, c.ips.get(victim)!, node, { app: "moved", tier: "x" }),
    );
    await sync.sync(compile(resolvePolicies(store.input(), { node }), { node }));
    const deltaMs = now() - t;
    const size = modelSize(desired);
    return {
      label,
      pods: c.pods.length,
      policies: c.policies.length,
      projectMs,
      compileMs,
      applyMs,
      verifyMs,
      deltaMs,
      rules: size.rules,
      elements: size.elements,
    };
  });
}

/** Runs the scale suite; `shape` overrides the cluster size. */
export async function policyScale(
  shape: Partial<SynthOptions> = {},
): Promise<{ text: string; rows: ScaleRow[] }> {
  const base: SynthOptions = {
    namespaces: 100,
    podsPerNamespace: 100,
    policiesPerNamespace: 10,
    nodes: 100,
    ...shape,
  };
  const rows = [
    await measure(`${base.nodes} nodes, node n0`, base, "n0"),
    await measure("all pods on one node", { ...base, nodes: 1 }, "n0"),
  ];
  const text = table(
    [
      "cluster",
      "pods",
      "policies",
      "ingest ms",
      "resolve+compile ms",
      "apply ms",
      "verify ms",
      "1-pod change ms",
      "nft rules",
      "set elements",
      "target",
    ],
    rows.map((r) => [
      r.label,
      String(r.pods),
      String(r.policies),
      fmt(r.projectMs),
      fmt(r.compileMs),
      fmt(r.applyMs),
      fmt(r.verifyMs),
      fmt(r.deltaMs),
      String(r.rules),
      String(r.elements),
      r.compileMs + r.applyMs <= 1000 ? "<= 1 s ok" : "> 1 s MISSED",
    ]),
  );
  return { text, rows };
}
