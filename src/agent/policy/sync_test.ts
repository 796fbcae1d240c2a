import assert from "node:assert/strict";
import { RealClock } from "../../system/clock.ts";
import { FakeNftJson } from "../../system/fake_nft_json.ts";
import { M, Metrics } from "../observe/metrics.ts";
import {
  TRUTH_CASES,
  XYZ_PODS,
  xyzNamespaces,
  xyzNodeOf,
  xyzPod,
} from "../testing/policy_cases.ts";
import { compile, groupChainName } from "./compile.ts";
import { projectNamespace, projectPod, projectPolicy } from "./project.ts";
import { resolvePolicies } from "./resolve.ts";
import { PolicySync, removePolicyTable } from "./sync.ts";
import type { PolicyInput } from "./types.ts";

const NODES = ["n1", "n2", "n3"];

function model(
  policies: unknown[],
  pods = XYZ_PODS,
  labels: Record<string, Record<string, string>> = {},
) {
  const ips = new Map(
    pods.map((k, i) => [k, `10.244.${NODES.indexOf(xyzNodeOf(k, NODES)) + 1}.${10 + i}`]),
  );
  const input: PolicyInput = {
    namespaces: xyzNamespaces().map((o) => projectNamespace(o).value!),
    pods: pods.map((k) =>
      projectPod(
        xyzPod(k, ips.get(k)!, xyzNodeOf(k, NODES), labels[k] ?? { pod: k.split("/")[1]! }),
      ).value!
    ),
    policies: policies.map((o) => projectPolicy(o).value!),
  };
  return compile(resolvePolicies(input), { node: "n1" });
}

const env = { ips: new Map<string, string>(), clusterCidr: "10.244.0.0/16" };
const allPolicies = () =>
  TRUTH_CASES.flatMap((c) =>
    c.steps[0]!.policies({ ...env, ips: new Map(XYZ_PODS.map((k) => [k, "10.244.9.9"])) })
  );
// Names repeat across cases ("deny-ingress" in x twice); keep the first of each.
function unique(list: unknown[]): unknown[] {
  const seen = new Set<string>();
  return list.filter((o) => {
    const m = (o as { metadata: { namespace: string; name: string } }).metadata;
    const k = `${m.namespace}/${m.name}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

Deno.test("policy sync: first pass writes the table, a second (verified) pass writes nothing", async () => {
  const nft = new FakeNftJson();
  const metrics = new Metrics();
  const sync = new PolicySync({ nft, clock: new RealClock(), metrics });
  const want = model(unique(allPolicies()));
  const r1 = await sync.sync(want);
  assert.ok(r1.commands > 10);
  assert.ok(nft.exists);
  const r2 = await sync.sync(want, { verify: true });
  assert.equal(r2.commands, 0, nft.payloads.at(-1));
  assert.equal(nft.payloads.length, 1);
  assert.ok(metrics.value(M.policyRules) > 0);
  assert.ok(metrics.value(M.policyElements) > 0);
});

Deno.test("policy sync: a new pod changes elements only, never a chain", async () => {
  const nft = new FakeNftJson();
  const sync = new PolicySync({ nft, clock: new RealClock() });
  const pols = [TRUTH_CASES[2]!.steps[0]!.policies(env)[0]!]; // x admits only x
  await sync.sync(model(pols));
  await sync.sync(model(pols, [...XYZ_PODS, "x/d"]));
  const delta = nft.payloads.at(-1)!;
  assert.match(delta, /^add element inet hostgate-policy r[0-9a-f]+-a4 \{ /m);
  assert.doesNotMatch(delta, /chain|rule|delete/);
  assert.equal((await sync.sync(model(pols, [...XYZ_PODS, "x/d"]), { verify: true })).commands, 0);
});

Deno.test("policy sync: deleting the policy removes its chains, sets and map elements", async () => {
  const nft = new FakeNftJson();
  const sync = new PolicySync({ nft, clock: new RealClock() });
  const pols = TRUTH_CASES[5]!.steps[0]!.policies(env); // OR case
  await sync.sync(model(pols));
  const chain = groupChainName("ingress", ["x/or"]);
  assert.ok(nft.chainNames().includes(chain));
  assert.deepEqual(nft.elements("ingress4"), ["10.244.1.10"]); // x/a lives on n1
  await sync.sync(model([]));
  assert.ok(!nft.chainNames().includes(chain));
  assert.deepEqual(nft.elements("ingress4"), []);
  assert.deepEqual(nft.chainNames().sort(), ["forward", "input"]);
  assert.equal((await sync.sync(model([]), { verify: true })).commands, 0);
});

Deno.test("policy sync: a relabelled pod moves between chains by map element", async () => {
  const nft = new FakeNftJson();
  const sync = new PolicySync({ nft, clock: new RealClock() });
  const c = TRUTH_CASES.find((x) => x.name.startsWith("pod relabelled"))!;
  await sync.sync(model(c.steps[0]!.policies(env)));
  assert.deepEqual(nft.elements("ingress4"), ["10.244.1.10"]);
  // x/c lives on n3; relabel n1's y/c? only x pods are selectable: relabel x/a out.
  await sync.sync(model(c.steps[0]!.policies(env), XYZ_PODS, { "x/a": { pod: "z" } }));
  assert.deepEqual(nft.elements("ingress4"), []);
  assert.match(
    nft.payloads.at(-1)!,
    /^delete element inet hostgate-policy ingress4 \{ 10\.244\.1\.10 \}$/m,
  );
});

Deno.test("policy sync: a failed apply is retried against a fresh read", async () => {
  const nft = new FakeNftJson();
  const metrics = new Metrics();
  const sync = new PolicySync({ nft, clock: new RealClock(), metrics });
  nft.failApplies = 1;
  const want = model(unique(allPolicies()));
  await sync.sync(want);
  assert.equal(metrics.value(M.policyErrors), 1);
  assert.equal((await sync.sync(want, { verify: true })).commands, 0);
});

Deno.test("policy sync: drift (an element removed behind its back) is repaired on a verify pass", async () => {
  const nft = new FakeNftJson();
  const sync = new PolicySync({ nft, clock: new RealClock() });
  const want = model(unique(allPolicies()));
  await sync.sync(want);
  await nft.apply("delete element inet hostgate-policy ingress4 { 10.244.1.10 }\n");
  assert.equal((await sync.sync(want)).commands, 0, "unverified pass trusts its last write");
  const r = await sync.sync(want, { verify: true });
  assert.equal(r.commands, 1);
  assert.ok(nft.elements("ingress4").includes("10.244.1.10"));
});

Deno.test("policy sync: drop counters become per-policy metrics", async () => {
  const nft = new FakeNftJson();
  const metrics = new Metrics();
  const sync = new PolicySync({ nft, clock: new RealClock(), metrics });
  const want = model(TRUTH_CASES[0]!.steps[0]!.policies(env));
  await sync.sync(want);
  nft.bumpCounters(groupChainName("ingress", ["x/deny-ingress"]), 7);
  await sync.sync(want, { verify: true });
  assert.equal(metrics.value(M.policyDrops, { policy: "x/deny-ingress" }), 7);
});

Deno.test("removePolicyTable: deletes the table once, then finds nothing", async () => {
  const nft = new FakeNftJson();
  await new PolicySync({ nft, clock: new RealClock() }).sync(model([]));
  assert.equal(await removePolicyTable(nft), true);
  assert.equal(nft.exists, false);
  assert.equal(await removePolicyTable(nft), false);
});
