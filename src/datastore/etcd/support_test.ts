import assert from "node:assert/strict";
import { FakeClock } from "../../system/fake_clock.ts";
import { type BackoffTracker, clientOptions, etcdKeys } from "./support.ts";

Deno.test("etcdKeys lays keys out under the prefix", () => {
  const k = etcdKeys("/hg");
  assert.equal(k.prefix, "/hg/");
  assert.equal(k.node("n1"), "/hg/nodes/n1");
  assert.equal(k.subnet("10.244.1.0/24"), "/hg/subnets/10.244.1.0/24");
  assert.equal(etcdKeys().nodes, "/hostgate/nodes/");
  assert.equal(etcdKeys().subnets, "/hostgate/subnets/");
});

Deno.test("clientOptions: deadlines only on unary calls; watch backoff doubles, caps, is tracked", async () => {
  const tracker: BackoffTracker = { until: 0 };
  const clock = new FakeClock();
  const opts = clientOptions({
    endpoints: ["http://127.0.0.1:1"],
    callTimeoutMs: 1234,
    backoff: { initialMs: 100, maxMs: 300 },
    tracker,
    clock,
  });
  assert.deepEqual(opts.hosts, ["http://127.0.0.1:1"]);
  const factory = opts.defaultCallOptions as (ctx: { isStream: boolean }) => { deadline?: Date };
  assert.deepEqual(factory({ isStream: true }), {});
  assert.equal(factory({ isStream: false }).deadline!.getTime(), clock.now() + 1234);
  // The watch manager calls next() once before the first failure.
  type B = { duration: number; next(): B };
  let b = (opts.faultHandling!.watchBackoff as unknown as B).next();
  const durations: number[] = [];
  for (let i = 0; i < 4; i++, b = b.next()) durations.push(b.duration);
  assert.ok(durations[0]! >= 80 && durations[0]! <= 120, String(durations));
  assert.ok(durations[1]! >= 160 && durations[1]! <= 240, String(durations));
  assert.ok(durations[3]! >= 240 && durations[3]! <= 360, String(durations));
  assert.equal(tracker.until, clock.now() + Math.max(...durations), "the latest timer is tracked");
  // The host policy passes calls straight through (no circuit breaker).
  const policy = opts.faultHandling!.host!("h") as unknown as {
    execute<T>(fn: () => T): Promise<T>;
  };
  assert.equal(await policy.execute(() => 42), 42);
  await assert.rejects(policy.execute(() => Promise.reject(new Error("boom"))), /boom/);
});
