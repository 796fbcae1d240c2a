import assert from "node:assert/strict";
import { FILTER_CHAIN } from "../firewall/mod.ts";
import { fakeNode, peer } from "../testing/mod.ts";

Deno.test("reconcile: rules are re-read once per resync interval, not on every trigger", async () => {
  const n = fakeNode({ peers: [peer("b", 2)], flags: ["--resync-interval=150ms"] });
  const rec = n.reconciler();
  await rec.resync();
  assert.equal(n.v4.rules("filter", FILTER_CHAIN)!.length, 4);
  // A save that would fail shows whether the step ran.
  n.v4.failNextSave();
  n.ds.setNode(peer("c", 3));
  const quick = await rec.resync();
  assert.deepEqual(quick.errors, [], "rules not read within the interval");
  assert.equal(quick.routes.added, 1, "the route still follows the datastore at once");
  await n.clock.advance(149);
  assert.deepEqual((await rec.resync()).errors, [], "not yet: 149 ms of 150");
  await n.clock.advance(1);
  const due = await rec.resync();
  assert.equal(due.errors.length, 1, "read again after the interval");
  assert.equal(due.ready, false);
  // Failed: the next pass retries at once, and repairs.
  n.v4.command("filter", ["-F", FILTER_CHAIN]);
  const retry = await rec.resync();
  assert.deepEqual(retry.errors, []);
  assert.equal(retry.firewallWrote, true);
  assert.equal(n.v4.rules("filter", FILTER_CHAIN)!.length, 4);
});

Deno.test("reconcile: the monitor's echo of a pass's own route writes is recognised", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  const rec = n.reconciler();
  await rec.resync();
  const [own] = n.handle.listRoutes({ family: 4, protocol: 151 });
  assert.ok(own);
  assert.equal(rec.isEcho({ kind: "add", route: own }), true);
  assert.equal(rec.isEcho({ kind: "delete", route: own }), false, "a wanted route deleted");
  n.ds.deleteNode("b");
  await rec.resync();
  assert.equal(rec.isEcho({ kind: "delete", route: own }), true, "the agent removed it");
});
