import assert from "node:assert/strict";
import type { NodeInfo } from "../../datastore/mod.ts";
import { M } from "../observe/mod.ts";
import { fakeNode, peer, routesOf } from "../testing/mod.ts";

/** Peer "b" (10.244.2.0/24 via .12) with an equally strong record made at `since`. */
const victim = (since: number): NodeInfo =>
  peer("b", 2, { ownership: { source: "node-spec", subnets: ["10.244.2.0/24"], since } });

/** "0t" claims b's subnet in its own record of the same rank ("0t" sorts first). */
const thief = (since: number): NodeInfo =>
  peer("0t", 2, {
    addresses: ["192.168.1.66"],
    ownership: { source: "node-spec", subnets: ["10.244.2.0/24"], since },
  });

Deno.test("reconcile: a thief's equal claim leaves the accepted owner's route in place", async () => {
  const n = fakeNode({ peers: [victim(2_000)] });
  const rec = n.reconciler();
  await rec.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  // Older than the victim, and first by name: neither decides against the incumbent.
  n.ds.setNode(thief(1_000));
  n.nl.clearCalls();
  const r = await rec.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  assert.equal(r.writes, 0, "nothing rewritten");
  assert.deepEqual(r.rejects.map((x) => [x.node, x.value, x.reason]), [
    ["0t", "10.244.2.0/24", "overlap"],
  ]);
  assert.equal(r.ready, true, r.notReady.join("; "));
  assert.equal(n.metrics.value(M.peersRejected, { reason: "overlap" }), 1);
  // A restarted agent knows the incumbent from its kernel route.
  const again = await n.reconciler().resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
  assert.deepEqual(again.rejects.map((x) => [x.node, x.reason]), [["0t", "overlap"]]);
  // The victim gone for good (authoritative read): the thief is the only claimant.
  n.ds.deleteNode("b");
  await rec.resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.66"]);
});

Deno.test("reconcile: equal claims with no route yet go to the older record", async () => {
  const n = fakeNode({ peers: [victim(2_000), thief(1_000)] });
  const r = await n.reconciler().resync();
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.66"]);
  assert.deepEqual(r.rejects.map((x) => [x.node, x.reason]), [["b", "overlap"]]);
  const tie = fakeNode({ peers: [victim(1_000), thief(1_000)] });
  const t = await tie.reconciler().resync();
  assert.deepEqual(routesOf(tie.handle), [], "indistinguishable: both lose");
  assert.equal(t.rejects.length, 2);
});
