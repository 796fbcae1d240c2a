import assert from "node:assert/strict";
import { RealClock } from "./clock.ts";

Deno.test("RealClock: wall time is the epoch clock; monotonic time never goes back", () => {
  const c = new RealClock();
  const before = Date.now();
  const now = c.now();
  assert.ok(now >= before && now <= Date.now());
  const a = c.monotonic();
  assert.ok(c.monotonic() >= a);
});

Deno.test("RealClock: an abort ends a long sleep at once and leaves no timer", async () => {
  const c = new RealClock();
  const ac = new AbortController();
  const slept = c.sleep(3_600_000, ac.signal);
  ac.abort();
  await slept; // the test sanitizer fails it if the hour-long timer were left running
  // Already aborted: no timer is started at all.
  await c.sleep(3_600_000, ac.signal);
});
