import assert from "node:assert/strict";
import type { Clock } from "../../system/clock.ts";
import { REREGISTER_BACKOFF_MS } from "./registration.ts";
import { fakeNode, peer } from "../testing/mod.ts";

/** A clock that moves only when told to. */
function manualClock(): Clock & { advance(ms: number): void } {
  let t = 1_000;
  return {
    now: () => t,
    monotonic: () => t,
    sleep: () => Promise.resolve(),
    advance(ms: number) {
      t += ms;
    },
  };
}

/** The fake hands out a fresh subnet per registration of an unknown node. */
const POOL = ["10.244.1.0/24", "10.244.5.0/24", "10.244.6.0/24"];

const registers = (calls: string[]) => calls.filter((c) => c === "register").length;

Deno.test("registration: own entry deleted while running is registered again, with backoff", async () => {
  const clock = manualClock();
  const n = fakeNode({ peers: [peer("b", 2)], clock, pool: POOL });
  const rec = n.reconciler();
  await rec.resync();
  assert.equal(registers(n.ds.calls), 1);

  n.ds.deleteNode("a");
  // Right after registering, a missing entry may be the watch lagging: no retry yet.
  await rec.resync();
  assert.equal(registers(n.ds.calls), 1);
  assert.equal(n.ds.nodes().some((x) => x.name === "a"), false);

  clock.advance(REREGISTER_BACKOFF_MS.initial);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2);
  const back = n.ds.nodes().find((x) => x.name === "a");
  assert.ok(back, "entry is back in the datastore");
  assert.deepEqual(back.addresses, ["192.168.1.10"]);
  assert.deepEqual(back.podCidrs, ["10.244.5.0/24"]);
  assert.ok(n.log.lines.some((l) => l.includes("registering again")), n.log.lines.join("\n"));

  // Deleted again at once: the next retry waits the (doubled) backoff.
  n.ds.deleteNode("a");
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2, "no retry inside the backoff");
  clock.advance(REREGISTER_BACKOFF_MS.initial * 2 - 1);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2, "still inside the doubled backoff");
  clock.advance(1);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 3);
  assert.ok(n.ds.nodes().some((x) => x.name === "a"));
});

Deno.test("registration: no re-registration while the datastore is disconnected", async () => {
  const clock = manualClock();
  const n = fakeNode({ peers: [peer("b", 2)], clock, pool: POOL });
  const rec = n.reconciler();
  await rec.resync();
  n.ds.deleteNode("a");
  n.ds.disconnect();
  clock.advance(REREGISTER_BACKOFF_MS.max);
  await rec.resync();
  assert.equal(registers(n.ds.calls), 1, "a disconnected node list proves nothing");
  n.ds.reconnect();
  await rec.resync();
  assert.equal(registers(n.ds.calls), 2);
  assert.ok(n.ds.nodes().some((x) => x.name === "a"));
});

Deno.test("registration: an entry that stays present is never registered again", async () => {
  const clock = manualClock();
  const n = fakeNode({ peers: [peer("b", 2)], clock, pool: POOL });
  const rec = n.reconciler();
  for (let i = 0; i < 5; i++) {
    await rec.resync();
    clock.advance(REREGISTER_BACKOFF_MS.max);
  }
  assert.equal(registers(n.ds.calls), 1);
});
