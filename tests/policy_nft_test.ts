/**
 * The policy table against the real nft in a throwaway namespace: every
 * truth-table step compiled and applied as a delta, each followed by a
 * verified pass (`nft -j list table` read back) that must write nothing, so
 * the diff reads the kernel's JSON exactly as it writes payloads.
 */
import assert from "node:assert/strict";
import { RealClock } from "../src/system/clock.ts";
import { ExecNftJson } from "../src/system/nft_json.ts";
import { compile } from "../src/agent/policy/compile.ts";
import { projectNamespace, projectPod, projectPolicy } from "../src/agent/policy/project.ts";
import { resolvePolicies } from "../src/agent/policy/resolve.ts";
import { PolicySync } from "../src/agent/policy/sync.ts";
import {
  podLabels,
  TRUTH_CASES,
  XYZ_PODS,
  xyzNamespaces,
  xyzNodeOf,
  xyzPod,
} from "../src/agent/testing/policy_cases.ts";
import { isRoot, withNetns } from "./helpers/netns.ts";
import { NetnsExec } from "./helpers/netns_exec.ts";

const NODES = ["n1", "n2", "n3"];

Deno.test({
  name: "policy nft: every truth-table step applies as a delta and reads back unchanged",
  ignore: !isRoot(),
  fn: () =>
    withNetns("hgpn", async (set) => {
      const ns = await set.add("node");
      const exec = new NetnsExec(ns);
      const sync = new PolicySync({ nft: new ExecNftJson({ exec }), clock: new RealClock() });
      let steps = 0;
      for (const c of TRUTH_CASES) {
        for (const step of c.steps) {
          const pods = [...XYZ_PODS, ...(step.extraPods ?? [])];
          const ips = new Map(
            pods.map((k, i) => [k, `10.244.${NODES.indexOf(xyzNodeOf(k, NODES)) + 1}.${10 + i}`]),
          );
          const model = resolvePolicies({
            namespaces: xyzNamespaces().map((o) => projectNamespace(o).value!),
            pods: pods.map((k) =>
              projectPod(xyzPod(k, ips.get(k)!, xyzNodeOf(k, NODES), podLabels(k, step))).value!
            ),
            policies: step.policies({ ips, clusterCidr: "10.244.0.0/16" }).map((o) =>
              projectPolicy(o).value!
            ),
          });
          for (const node of NODES) {
            const want = compile(model, { node });
            const r = await sync.sync(want);
            assert.equal(r.rewrote, false, `${c.name} / ${step.what} on ${node}: delta refused`);
            const again = await sync.sync(want, { verify: true });
            assert.equal(
              again.commands,
              0,
              `${c.name} / ${step.what} on ${node}: read back differs`,
            );
            steps++;
          }
        }
      }
      assert.ok(steps > 40);
      const listing = await set.sh(ns, ["nft", "list", "ruleset"]);
      assert.match(listing, /table inet hostgate-policy/);
      assert.doesNotMatch(
        listing,
        /^table (?!inet hostgate-policy)/m,
        "only hostgate's table exists",
      );
      for (const line of listing.split("\n").map((l) => l.trim())) {
        if (
          /(accept|drop|return|vmap @\S+)$/.test(line) || /(accept|drop|return) comment/.test(line)
        ) {
          assert.match(line, /comment "/, `uncommented rule: ${line}`);
        }
      }
    }),
});
