import assert from "node:assert/strict";
import { RealClock } from "../../system/clock.ts";
import { backoffMs, runLoop, Waker } from "./loop.ts";

const clock = new RealClock();

Deno.test("backoff doubles from min and stops at max", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => backoffMs(n, 500, 3000)), [
    0,
    500,
    1000,
    2000,
    3000,
    3000,
  ]);
});

Deno.test("loop: a burst of triggers becomes one pass; the timer makes more", async () => {
  const waker = new Waker();
  const ac = new AbortController();
  let passes = 0;
  const done = runLoop({
    clock,
    waker,
    signal: ac.signal,
    debounceMs: 30,
    resyncIntervalMs: 10_000,
    retryMinMs: 5,
    retryMaxMs: 10,
    pass: () => {
      passes++;
      return Promise.resolve(true);
    },
  });
  await clock.sleep(60);
  assert.equal(passes, 1, "the initial pass");
  for (let i = 0; i < 20; i++) waker.fire();
  await clock.sleep(80);
  assert.equal(passes, 2, "twenty triggers, one pass");
  ac.abort();
  await done;
});

Deno.test("loop: a failed pass is retried with backoff until it succeeds", async () => {
  const waker = new Waker();
  const ac = new AbortController();
  const results = [false, false, true];
  const delays: number[] = [];
  let passes = 0;
  const done = runLoop({
    clock,
    waker,
    signal: ac.signal,
    debounceMs: 0,
    resyncIntervalMs: 10_000,
    retryMinMs: 10,
    retryMaxMs: 15,
    pass: () => Promise.resolve(results[passes++] ?? true),
    onPass: (_ok, next) => delays.push(next),
  });
  await clock.sleep(150);
  assert.equal(passes, 3);
  assert.deepEqual(delays, [10, 15, 10_000]);
  ac.abort();
  await done;
});
