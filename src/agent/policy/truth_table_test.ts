import assert from "node:assert/strict";
import {
  podLabels,
  renderMatrix,
  TRUTH_CASES,
  XYZ_PODS,
  xyzNamespaces,
  xyzNodeOf,
  xyzPod,
} from "../testing/policy_cases.ts";
import { evaluate } from "./evaluate.ts";
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import { resolvePolicies } from "./resolve.ts";
import type { PolicyInput } from "./types.ts";

const NODES = ["n1", "n2", "n3"];
const NODE_IPS = new Map(NODES.map((n, i) => [n, [`172.30.0.${11 + i}`]]));

/** Fixture input of one step with deterministic addresses. */
function inputOf(step: (typeof TRUTH_CASES)[number]["steps"][number]) {
  const pods = [...XYZ_PODS, ...(step.extraPods ?? [])];
  const ips = new Map(pods.map((k, i) => {
    const node = xyzNodeOf(k, NODES);
    return [k, `10.244.${NODES.indexOf(node) + 1}.${10 + i}`];
  }));
  const input: PolicyInput = {
    namespaces: xyzNamespaces().map((o) => projectNamespace(o).value!),
    pods: pods.map((k) =>
      projectPod(xyzPod(k, ips.get(k)!, xyzNodeOf(k, NODES), podLabels(k, step))).value!
    ),
    policies: step.policies({ ips, clusterCidr: "10.244.0.0/16" }).map((o) => {
      const p = projectPolicy(o);
      assert.deepEqual(p.errors, []);
      return p.value!;
    }),
  };
  return { input, pods, ips };
}

for (const c of TRUTH_CASES) {
  Deno.test(`truth table (evaluator): ${c.name}`, () => {
    for (const step of c.steps) {
      const { input, pods, ips } = inputOf(step);
      const model = resolvePolicies(input);
      const nodeOf = (k: string) => xyzNodeOf(k, NODES);
      const sources = [...pods, ...(step.nodeSources ? NODES : [])];
      for (const probe of step.probes) {
        const got = (f: string, t: string) =>
          f === t || evaluate(model, {
            src: ips.get(f) ?? NODE_IPS.get(f)![0]!,
            dst: ips.get(t)!,
            protocol: probe.protocol,
            port: probe.port,
          }, NODE_IPS).allowed;
        const want = (f: string, t: string) => f === t || step.allowed(f, t, probe, nodeOf);
        const a = renderMatrix(sources, pods, got);
        const e = renderMatrix(sources, pods, want);
        assert.equal(
          a,
          e,
          `${c.name} / ${step.what} / ${probe.port}/${probe.protocol}\nexpected:\n${e}\ngot:\n${a}`,
        );
      }
    }
  });
}
