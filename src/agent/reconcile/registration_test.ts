import assert from "node:assert/strict";
import { FakeClock } from "../../system/fake_clock.ts";
import { REREGISTER_BACKOFF_MS } from "./registration.ts";
import { fakeNode, peer } from "../testing/mod.ts";

/** The fake hands out a fresh subnet per registration of an unknown node. */
const POOL = ["10.244.1.0/24", "10.244.5.0/24", "10.244.6.0/24"];

const registers = (calls: string[]) => calls.filter((c) => c === "register").length;

Deno.test("registration: own entry deleted while running is registered again, with backoff", async () => {
  const clock = new FakeClock();
  const n = fakeNode({ peers: [peer("b", 2)], clock, pool: POOL });
  const rec = n.reconciler();
  await rec.resync();
  assert.equal(registers(n.ds.calls), 1);

  n.ds.deleteNode("a");
  // Right after registering, a missing entry may be the watch lagging: no retry yet.
  await rec.resync();
  assert.equal(registers(n.ds.calls), 1);
  assert.equal(n.ds.nodes().some((x) => x.name === "a"), false);

  await clock.advance(REREGISTER_BACKOFF_MS.initial);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2);
  const back = n.ds.nodes().find((x) => x.name === "a");
  assert.ok(back, "entry is back in the datastore");
  assert.deepEqual(back.addresses, ["192.168.1.10"]);
  assert.deepEqual(back.podCidrs, ["10.244.5.0/24"]);
  const text = n.log.lines.map((l) => l.text);
  assert.ok(text.some((l) => l.includes("registering again")), text.join("\n"));

  // Deleted again at once: the next retry waits the (doubled) backoff.
  n.ds.deleteNode("a");
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2, "no retry inside the backoff");
  await clock.advance(REREGISTER_BACKOFF_MS.initial * 2 - 1);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2, "still inside the doubled backoff");
  await clock.advance(1);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 3);
  assert.ok(n.ds.nodes().some((x) => x.name === "a"));
});

Deno.test("registration: no re-registration while the datastore is disconnected", async () => {
  const clock = new FakeClock();
  const n = fakeNode({ peers: [peer("b", 2)], clock, pool: POOL });
  const rec = n.reconciler();
  await rec.resync();
  n.ds.deleteNode("a");
  n.ds.disconnect();
  await clock.advance(REREGISTER_BACKOFF_MS.max);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 1, "a disconnected node list proves nothing");
  n.ds.reconnect();
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2);
  assert.ok(n.ds.nodes().some((x) => x.name === "a"));
});

Deno.test("registration: an entry that stays present is never registered again", async () => {
  const clock = new FakeClock();
  const n = fakeNode({ peers: [peer("b", 2)], clock, pool: POOL });
  const rec = n.reconciler();
  for (let i = 0; i < 5; i++) {
    await rec.resync();
    await clock.advance(REREGISTER_BACKOFF_MS.max);
  }
  assert.equal(registers(n.ds.calls), 1);
});
