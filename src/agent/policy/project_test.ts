import assert from "node:assert/strict";
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import { selects } from "./selector.ts";
import { addressElement, cidrInterval, mergeIntervals, subtractIntervals } from "./intervals.ts";

Deno.test("projectPolicy: policyTypes default to Ingress, plus Egress when egress rules exist", () => {
  const a = projectPolicy({ metadata: { name: "p", namespace: "x" }, spec: { podSelector: {} } });
  assert.equal(a.value?.ingressIsolation, true);
  assert.equal(a.value?.egressIsolation, false);
  const b = projectPolicy({
    metadata: { name: "p", namespace: "x" },
    spec: { podSelector: {}, egress: [{ to: [{ podSelector: {} }] }] },
  });
  assert.equal(b.value?.egressIsolation, true);
  const c = projectPolicy({
    metadata: { name: "p", namespace: "x" },
    spec: { podSelector: {}, policyTypes: ["Egress"] },
  });
  assert.deepEqual([c.value?.ingressIsolation, c.value?.egressIsolation], [false, true]);
});

Deno.test("projectPolicy: a malformed rule is dropped (fail closed) and reported", () => {
  const p = projectPolicy({
    metadata: { name: "p", namespace: "x" },
    spec: {
      podSelector: { matchLabels: { app: "web" } },
      ingress: [
        { from: [{ ipBlock: { cidr: "10.0.0.0/33" } }] },
        { ports: [{ port: 80, endPort: 70 }] },
        { ports: [{ protocol: "ICMP", port: 1 }] },
        {
          from: [{ podSelector: {} }],
          ports: [{ port: "http" }, { port: 81, endPort: 90, protocol: "udp" }],
        },
      ],
    },
  });
  assert.equal(p.value?.ingress.length, 1);
  assert.deepEqual(p.value?.ingress[0]?.ports, [
    { protocol: "TCP", port: "http" },
    { protocol: "UDP", port: 81, endPort: 90 },
  ]);
  assert.equal(p.errors.length, 3);
  assert.match(
    p.errors[0]!,
    /^x\/p: spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr is not a CIDR; rule dropped$/,
  );
});

Deno.test("projectPolicy: a bad pod selector rejects the policy", () => {
  const p = projectPolicy({
    metadata: { name: "p", namespace: "x" },
    spec: { podSelector: { matchExpressions: [{ key: "a", operator: "Near" }] } },
  });
  assert.equal(p.value, undefined);
  assert.match(p.errors[0]!, /matchExpressions\[0\] needs a key and an operator/);
});

Deno.test("projectPod: IPs of running pods only, named ports, hostNetwork", () => {
  const pod = (phase: string) => ({
    metadata: { name: "a", namespace: "x", labels: { app: "w" } },
    spec: {
      nodeName: "n1",
      hostNetwork: false,
      containers: [{ ports: [{ name: "http", containerPort: 8080 }, { containerPort: 9 }] }],
    },
    status: { phase, podIPs: [{ ip: "10.244.1.5" }, { ip: "FD00::5" }] },
  });
  const p = projectPod(pod("Running")).value!;
  assert.deepEqual(p.ips, ["10.244.1.5", "fd00::5"]);
  assert.deepEqual(p.ports, [{ name: "http", port: 8080, protocol: "TCP" }]);
  assert.deepEqual(projectPod(pod("Succeeded")).value!.ips, []);
});

Deno.test("projectNamespace: adds kubernetes.io/metadata.name", () => {
  assert.deepEqual(projectNamespace({ metadata: { name: "y", labels: { a: "b" } } }).value, {
    name: "y",
    labels: { a: "b", "kubernetes.io/metadata.name": "y" },
  });
});

Deno.test("selects: matchLabels AND matchExpressions; empty selects all", () => {
  const l = { app: "web", tier: "fe" };
  assert.ok(selects({}, l));
  assert.ok(selects({ matchLabels: { app: "web" } }, l));
  assert.ok(!selects({ matchLabels: { app: "web", tier: "be" } }, l));
  assert.ok(
    selects({ matchExpressions: [{ key: "tier", operator: "In", values: ["fe", "x"] }] }, l),
  );
  assert.ok(
    !selects({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["fe"] }] }, l),
  );
  assert.ok(selects({ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, l));
  assert.ok(selects({ matchExpressions: [{ key: "app", operator: "Exists" }] }, l));
  assert.ok(!selects({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, l));
  assert.ok(
    !selects(
      { matchLabels: { app: "web" }, matchExpressions: [{ key: "x", operator: "Exists" }] },
      l,
    ),
  );
});

Deno.test("intervals: CIDR minus excepts renders as disjoint nft elements", () => {
  const base = cidrInterval("10.0.0.0/24").iv;
  const ex = mergeIntervals([cidrInterval("10.0.0.16/28").iv, cidrInterval("10.0.0.128/25").iv]);
  const left = subtractIntervals([base], ex).map((iv) => addressElement(4, iv));
  assert.deepEqual(left, ["10.0.0.0/28", "10.0.0.32-10.0.0.127"]);
  assert.equal(addressElement(6, cidrInterval("fd00::/64").iv), "fd00::/64");
  assert.equal(addressElement(4, cidrInterval("0.0.0.0/0").iv), "0.0.0.0/0");
});
