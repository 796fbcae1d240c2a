import assert from "node:assert/strict";
import { fakeNode, NETLINK_WRITES, peer, routesOf } from "../testing/mod.ts";

Deno.test("reconcile pool: host routes for pool addresses of peers; a second pass writes nothing", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  n.ds.setPodAddresses([
    { ip: "10.244.100.7", node: "b", released: false },
    { ip: "10.244.100.8", node: "c", released: false },
    { ip: "10.244.100.9", node: "c", released: true },
    { ip: "10.244.100.10", node: "a", released: false },
  ]);
  const rec = n.reconciler();
  const first = await rec.resync();
  assert.deepEqual(first.errors, []);
  assert.deepEqual(routesOf(n.handle), [
    "10.244.100.7/32 via 192.168.1.12",
    "10.244.100.8/32 via 192.168.1.13",
    "10.244.2.0/24 via 192.168.1.12",
    "10.244.3.0/24 via 192.168.1.13",
  ]);
  n.nl.clearCalls();
  const second = await rec.resync();
  assert.equal(second.writes, 0);
  assert.deepEqual(n.nl.calls.filter((c) => NETLINK_WRITES.includes(c.op)), []);
});

Deno.test("reconcile pool: a sticky address re-used on another node moves its route; release drops it", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  n.ds.setPodAddresses([{ ip: "10.244.100.7", node: "b", released: false }]);
  const rec = n.reconciler();
  await rec.resync();
  n.ds.setPodAddresses([{ ip: "10.244.100.7", node: "c", released: false }]);
  const moved = await rec.resync();
  assert.ok(routesOf(n.handle).includes("10.244.100.7/32 via 192.168.1.13"));
  assert.equal(moved.routes.replaced, 1, "replaced in place");
  n.ds.setPodAddresses([{ ip: "10.244.100.7", node: "c", released: true }]);
  await rec.resync();
  assert.deepEqual(routesOf(n.handle), [
    "10.244.2.0/24 via 192.168.1.12",
    "10.244.3.0/24 via 192.168.1.13",
  ]);
});
