import assert from "node:assert/strict";
import {
  TRUTH_CASES,
  XYZ_PODS,
  xyzNamespaces,
  xyzNodeOf,
  xyzPod,
} from "../testing/policy_cases.ts";
import { explain, parsePortSpec } from "./explain.ts";
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import { resolvePolicies } from "./resolve.ts";

const NODES = ["n1", "n2", "n3"];

function model(caseName: string) {
  const c = TRUTH_CASES.find((x) => x.name === caseName)!;
  const ips = new Map(
    XYZ_PODS.map((k, i) => [k, `10.244.${NODES.indexOf(xyzNodeOf(k, NODES)) + 1}.${10 + i}`]),
  );
  return resolvePolicies({
    namespaces: xyzNamespaces().map((o) => projectNamespace(o).value!),
    pods: XYZ_PODS.map((k) =>
      projectPod(xyzPod(k, ips.get(k)!, xyzNodeOf(k, NODES), { pod: k.split("/")[1]! })).value!
    ),
    policies: c.steps[0]!.policies({ ips, clusterCidr: "10.244.0.0/16" }).map((o) =>
      projectPolicy(o).value!
    ),
  });
}

Deno.test("explain: names the allowing rule and its nft rule", () => {
  const r = explain(model("pod and namespace selector as two peers (OR)"), {
    from: "y/b",
    to: "x/a",
    port: "80/TCP",
  });
  assert.equal(r.allowed, true);
  assert.match(r.text, /^y\/b \(10\.244\.3\.\d+\) -> x\/a \(10\.244\.1\.10\) 80\/TCP: ALLOWED$/m);
  assert.match(r.text, /isolated by: x\/or/);
  assert.match(
    r.text,
    /ALLOW: allowed by x\/or ingress rule 0: from namespaces \{ns=y\} \| pods \{pod=b\} on any port/,
  );
  assert.match(r.text, /nft: map ingress4: 10\.244\.1\.10 : jump in-[0-9a-f]+ {3}\(node n1\)/);
  assert.match(
    r.text,
    /nft: add rule inet hostgate-policy in-[0-9a-f]+ ip saddr @r[0-9a-f]+-a4 accept comment/,
  );
  assert.match(r.text, /egress of source: y\/b on n3\n {2}isolated by: none/);
});

Deno.test("explain: a denial shows the policies and the drop rule", () => {
  const r = explain(model("default deny egress"), {
    from: "x/b",
    to: "10.244.1.10",
    port: "53/udp",
  });
  assert.equal(r.allowed, false);
  assert.match(r.text, /DENY: denied: no egress rule of x\/deny-egress matches/);
  assert.match(
    r.text,
    /nft: add rule inet hostgate-policy eg-[0-9a-f]+ counter drop comment "egress denied: x\/deny-egress/,
  );
});

Deno.test("explain: bad input", () => {
  assert.throws(() => parsePortSpec("http"), /Cannot parse --port/);
  assert.deepEqual(parsePortSpec("icmp"), { protocol: "ICMP", port: 0 });
  assert.deepEqual(parsePortSpec("81"), { protocol: "TCP", port: 81 });
  assert.throws(
    () => explain(model("default deny egress"), { from: "x/q", to: "x/a", port: "80" }),
    /no pod x\/q/,
  );
});
