import assert from "node:assert/strict";
import { FakeClock, until } from "./fake_clock.ts";

Deno.test("fake clock: time moves only on advance, wall and monotonic together", async () => {
  const c = new FakeClock({ now: 5_000, monotonic: 10 });
  assert.equal(c.now(), 5_000);
  assert.equal(c.monotonic(), 10);
  await c.advance(250);
  assert.deepEqual([c.now(), c.monotonic()], [5_250, 260]);
  await assert.rejects(c.advance(-1), /Cannot advance the clock: -1 ms is negative/);
});

Deno.test("fake clock: timers fire in due order at their own time; cleared ones never", async () => {
  const c = new FakeClock({ monotonic: 0 });
  const fired: string[] = [];
  c.setTimeout(() => fired.push(`b@${c.monotonic()}`), 20);
  c.setTimeout(() => fired.push(`a@${c.monotonic()}`), 10);
  c.setTimeout(() => fired.push(`a2@${c.monotonic()}`), 10);
  const gone = c.setTimeout(() => fired.push("cleared"), 15);
  c.clearTimeout(gone);
  c.clearTimeout(undefined);
  c.setTimeout(() => fired.push("late"), 31);
  assert.equal(c.pending, 4);
  assert.equal(c.nextDue(), 10);
  await c.advance(9);
  assert.deepEqual(fired, []);
  await c.advance(21);
  assert.deepEqual(fired, ["a@10", "a2@10", "b@20"]);
  assert.equal(c.monotonic(), 30);
  assert.equal(c.nextDue(), 1);
  await c.advance(1);
  assert.deepEqual(fired.at(-1), "late");
  assert.equal(c.nextDue(), undefined);
});

Deno.test("fake clock: a sleep woken in the window may sleep again and still wake in it", async () => {
  const c = new FakeClock({ monotonic: 0 });
  const woke: number[] = [];
  const sleeper = (async () => {
    for (let i = 0; i < 3; i++) {
      await c.sleep(100);
      woke.push(c.monotonic());
    }
  })();
  await c.advance(250);
  assert.deepEqual(woke, [100, 200]);
  await c.advance(50);
  await sleeper;
  assert.deepEqual(woke, [100, 200, 300]);
  assert.equal(c.pending, 0);
});

Deno.test("fake clock: an aborted sleep resolves at once and leaves no timer", async () => {
  const c = new FakeClock();
  const ac = new AbortController();
  let done = false;
  const p = c.sleep(60_000, ac.signal).then(() => (done = true));
  assert.equal(c.pending, 1);
  ac.abort();
  await p;
  assert.equal(done, true);
  assert.equal(c.pending, 0);
  const t0 = c.monotonic();
  await c.sleep(1_000, ac.signal);
  assert.equal(c.monotonic(), t0, "an already aborted sleep does not wait");
});

Deno.test("fake clock: autoAdvance lets a retry loop run through its sleeps alone", async () => {
  const c = new FakeClock({ monotonic: 0, autoAdvance: true });
  const other: number[] = [];
  c.setTimeout(() => other.push(c.monotonic()), 150);
  for (let i = 0; i < 3; i++) await c.sleep(100);
  assert.equal(c.monotonic(), 300);
  assert.deepEqual(other, [150], "timers due during a sleep fire at their own time");
});

Deno.test("until: advances the fake clock step by step and names what it waited for", async () => {
  const c = new FakeClock({ monotonic: 0 });
  let ready = false;
  c.setTimeout(() => (ready = true), 95);
  await until("ready", () => ready, { clock: c, stepMs: 10 });
  assert.equal(c.monotonic(), 100);
  await assert.rejects(
    until("never", () => false, { clock: c, stepMs: 10, maxMs: 50 }),
    /Cannot see never: still false after 50 ms/,
  );
  assert.equal(c.monotonic(), 150);
});

Deno.test("until: without a clock only ready promise chains run, then it gives up", async () => {
  let step = 0;
  const chain = (async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve(step++);
  })();
  await until("the chain", () => step === 5);
  await chain;
  await assert.rejects(
    until("never", () => false),
    /Cannot see never: still false after 1000 rounds/,
  );
});
