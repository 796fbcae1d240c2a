/**
 * The NetworkPolicy truth table in network namespaces, modelled on the
 * upstream Kubernetes network policy e2e suite: a three-node simulated
 * cluster (file datastore, agents enforcing policy), namespaces x, y, z with
 * pods a, b, c; for every case and step the full probe matrix is compared
 * with the hand-written expectation (src/agent/testing/policy_cases.ts), and
 * a mismatch prints both matrices. The pod wiring is a parameter: one run
 * per mode in HOSTGATE_TEST_WIRING (comma-separated; default "routed,bridge":
 * routed veths, and bridge ports where br_netfilter hands bridged IP to the
 * inet forward hook), with the agent flags of WIRING_FLAGS.
 * @module
 */
import assert from "node:assert/strict";
import { TRUTH_CASES } from "../src/agent/testing/policy_cases.ts";
import { Cluster } from "./cluster/cluster.ts";
import { PolicyWorld } from "./cluster/policy_world.ts";
import { isRoot } from "./helpers/netns.ts";

/** Agent flags per pod wiring mode. */
const WIRING_FLAGS: Record<string, string[]> = {
  bridge: ["--pod-mode=bridge"],
  routed: ["--pod-mode=routed"],
};
const MODES = (Deno.env.get("HOSTGATE_TEST_WIRING") ?? "routed,bridge").split(",");

for (const WIRING of MODES) {
  Deno.test({
    name: `NetworkPolicy truth table (${WIRING} wiring)`,
    ignore: !isRoot(),
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const flags = WIRING_FLAGS[WIRING];
      if (!flags) throw new Error(`Cannot run the policy suite: unknown wiring ${WIRING}`);
      const cluster = await Cluster.start({
        prefix: "hgnp",
        nodes: 3,
        datastore: "file",
        agentFlags: flags,
        log: () => {},
      });
      const failures: string[] = [];
      try {
        for (const n of ["n1", "n2", "n3"]) await cluster.join(n);
        await cluster.waitMesh(["n1", "n2", "n3"]);
        const world = await PolicyWorld.build(cluster);
        for (const c of TRUTH_CASES) {
          await t.step(c.name, async () => {
            const bad: string[] = [];
            for (const step of c.steps) {
              await world.apply(step);
              bad.push(...(await world.probe(step)).mismatches);
            }
            if (bad.length) failures.push(`${c.name}:\n${bad.join("\n")}`);
            assert.deepEqual(bad, [], `${c.name}\n${bad.join("\n")}`);
          });
        }
        // The last state left no policy behind for the next run: clear the folder.
        await world.apply({
          what: "no policies",
          policies: () => [],
          probes: [],
          allowed: () => true,
        });
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${await cluster.agentLogs(30)}`);
      } finally {
        await cluster.teardown();
      }
      assert.deepEqual(failures, []);
    },
  });
}
