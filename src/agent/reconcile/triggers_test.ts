import assert from "node:assert/strict";
import { FakeClock, settle, until } from "../../system/fake_clock.ts";
import { memoryLogger } from "../observe/mod.ts";
import { FakeWatches } from "../testing/mod.ts";
import { linkEventWantsPass, WATCH_RETRY_MS, watchOwnedFiles } from "./triggers.ts";

function start(w: FakeWatches) {
  const clock = new FakeClock();
  const ac = new AbortController();
  let fired = 0;
  const done = watchOwnedFiles({
    open: w.open,
    dir: "/etc/cni/net.d",
    names: ["10-hostgate.conflist"],
    fire: () => fired++,
    signal: ac.signal,
    clock,
    log: memoryLogger(),
  });
  return { clock, fired: () => fired, stop: () => (ac.abort(), done) };
}

Deno.test("watchOwnedFiles: only our files and the directory itself ask for a pass", async () => {
  const w = new FakeWatches();
  const s = start(w);
  await settle();
  w.event("/etc/cni/net.d", "/etc/cni/net.d/99-other.conflist");
  await settle();
  assert.equal(s.fired(), 0, "someone else's file");
  w.event("/etc/cni/net.d", "/etc/cni/net.d/10-hostgate.conflist");
  await settle();
  assert.equal(s.fired(), 1);
  w.event("/etc/cni/net.d", "/etc/cni/net.d");
  await settle();
  assert.equal(s.fired(), 2, "the directory itself changed");
  await s.stop();
  assert.equal(s.clock.pending, 0, "stopped: no retry timer left");
});

Deno.test("watchOwnedFiles: a missing directory is retried every second and checked when back", async () => {
  const w = new FakeWatches();
  w.missing = true;
  const s = start(w);
  await settle();
  assert.equal(w.opened, 0);
  assert.equal(s.fired(), 1, "could not watch: a pass checks the files anyway");
  await s.clock.advance(WATCH_RETRY_MS * 3);
  assert.equal(s.fired(), 4, "one per failed attempt");
  w.missing = false;
  await until("the watch reopened", () => w.opened === 1, { clock: s.clock, stepMs: 100 });
  assert.equal(s.fired(), 5, "the directory is back: one more pass to check it");
  // A watch that ends (directory removed) fires and reopens after the pause.
  w.end("/etc/cni/net.d");
  await settle();
  assert.equal(s.fired(), 6);
  await s.clock.advance(WATCH_RETRY_MS);
  assert.equal(w.opened, 2);
  await s.stop();
});

Deno.test("linkEventWantsPass: neighbour churn matters on the vxlan device only", () => {
  assert.equal(linkEventWantsPass({ kind: "neigh", op: "add", ifindex: 7 }, 7), true);
  assert.equal(linkEventWantsPass({ kind: "neigh", op: "add", ifindex: 3 }, 7), false);
  assert.equal(linkEventWantsPass({ kind: "neigh", op: "delete", ifindex: 3 }, undefined), false);
  for (const kind of ["link", "addr", "netconf"] as const) {
    assert.equal(linkEventWantsPass({ kind, op: "delete", ifindex: 3 }, undefined), true);
  }
});
