import assert from "node:assert/strict";
import { FakeClock } from "../../system/fake_clock.ts";
import { backoffMs, runLoop, Waker } from "./loop.ts";

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
  const clock = new FakeClock();
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
  await clock.advance(29);
  assert.equal(passes, 0, "the initial pass waits out the debounce");
  await clock.advance(1);
  assert.equal(passes, 1, "the initial pass");
  for (let i = 0; i < 20; i++) waker.fire();
  await clock.advance(29);
  for (let i = 0; i < 20; i++) waker.fire();
  await clock.advance(1);
  assert.equal(passes, 2, "forty triggers within the debounce, one pass");
  await clock.advance(10_000 - 1);
  assert.equal(passes, 2, "no pass before the resync interval");
  await clock.advance(1 + 29);
  assert.equal(passes, 2, "the resync wake-up is debounced too");
  await clock.advance(1);
  assert.equal(passes, 3, "the resync interval makes one more");
  ac.abort();
  await done;
});

Deno.test("loop: a failed pass is retried with backoff until it succeeds", async () => {
  const clock = new FakeClock();
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
  await clock.advance(0);
  assert.equal(passes, 1, "the initial pass, at once");
  await clock.advance(9);
  assert.equal(passes, 1, "the first retry waits retryMinMs");
  await clock.advance(1);
  assert.equal(passes, 2);
  await clock.advance(14);
  assert.equal(passes, 2, "the second retry waits twice as long, capped at retryMaxMs");
  await clock.advance(1);
  assert.equal(passes, 3);
  assert.deepEqual(delays, [10, 15, 10_000]);
  ac.abort();
  await done;
  assert.equal(clock.pending, 0, "a stopped loop leaves no timer");
});
