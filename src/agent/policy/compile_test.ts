import assert from "node:assert/strict";
import { assertGolden } from "../testing/golden.ts";
import { compile } from "./compile.ts";
import { fullPayload } from "./diff.ts";
import { modelSize } from "./nft_model.ts";
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import { resolvePolicies } from "./resolve.ts";

const input = () => ({
  namespaces: [{ metadata: { name: "x", labels: { ns: "x" } } }].map((o) =>
    projectNamespace(o).value!
  ),
  pods: [
    ["a", "10.244.1.10", "n1", { app: "web" }],
    ["b", "10.244.1.11", "n1", { app: "db" }],
    ["c", "10.244.2.10", "n2", { app: "web" }],
  ].map(([name, ip, node, labels]) =>
    projectPod({
      metadata: { namespace: "x", name, labels },
      spec: { nodeName: node, containers: [{ ports: [{ name: "http", containerPort: 8080 }] }] },
      status: { phase: "Running", podIP: ip },
    }).value!
  ),
  policies: [
    {
      metadata: { namespace: "x", name: "web" },
      spec: {
        podSelector: { matchLabels: { app: "web" } },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{
          from: [{ podSelector: { matchLabels: { app: "db" } } }, {
            ipBlock: { cidr: "192.168.0.0/16", except: ["192.168.1.0/24"] },
          }],
          ports: [{ port: "http" }, { port: 80, endPort: 90 }, { protocol: "UDP", port: 53 }],
        }],
        egress: [{ to: [{ namespaceSelector: {} }] }],
      },
    },
  ].map((o) => projectPolicy(o).value!),
});

Deno.test("compile: golden payload of one node", async () => {
  const m = compile(resolvePolicies(input()), { node: "n1" });
  await assertGolden("policy_n1.nft", fullPayload(m));
});

Deno.test("compile: a node with no selected pod has no group chain", () => {
  const m = compile(
    resolvePolicies({ ...input(), pods: input().pods.filter((p) => p.name !== "c") }),
    { node: "n2" },
  );
  assert.deepEqual([...m.chains.keys()].sort(), ["forward", "input"]);
  assert.equal(modelSize(m).elements, 0);
});

Deno.test("compile: chains depend on specs only; pods change elements", () => {
  const a = compile(resolvePolicies(input()), { node: "n1" });
  const more = input();
  more.pods.push({ ...more.pods[1]!, name: "d", ips: ["10.244.1.12"] });
  const b = compile(resolvePolicies(more), { node: "n1" });
  assert.deepEqual(
    [...a.chains.values()].map((c) => c.rules),
    [...b.chains.values()].map((c) => c.rules),
  );
  assert.notDeepEqual([...a.sets.values()], [...b.sets.values()]);
});
