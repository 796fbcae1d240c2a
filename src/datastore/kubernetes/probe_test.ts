import assert from "node:assert/strict";
import { FakeClock, settle } from "../../system/fake_clock.ts";
import { ApiError, type ApiTransport } from "./transport.ts";
import { PROBE_EVERY_MS, probeUntilStopped } from "./probe.ts";

/** A transport whose GET /version answers while `up`, and counts calls. */
function transport(state: { up: boolean; calls: string[] }): ApiTransport {
  return {
    get: (path) => {
      state.calls.push(path);
      return state.up
        ? Promise.resolve(new Response('{"major":"1"}'))
        : Promise.reject(new ApiError(503, "ServiceUnavailable", "down"));
    },
    request: () => Promise.reject(new Error("Cannot request: not in this test")),
    close: () => {},
  };
}

Deno.test("probe: idle while nothing waits; wakes the waiters on the first answer only", async () => {
  const clock = new FakeClock();
  const state = { up: false, calls: [] as string[] };
  const stop = new AbortController();
  let woken = 0;
  let waiting: { retryNow(): void }[] = [];
  const loop = probeUntilStopped({
    transport: transport(state),
    clock,
    random: () => 0.5,
    signal: stop.signal,
    waiting: () => waiting,
  });
  await clock.advance(PROBE_EVERY_MS * 4);
  assert.deepEqual(state.calls, [], "no probe while nothing waits");
  waiting = [{ retryNow: () => woken++ }, { retryNow: () => woken++ }];
  await clock.advance(PROBE_EVERY_MS * 3);
  await settle();
  assert.equal(state.calls.length, 3, "one probe per period");
  assert.deepEqual(new Set(state.calls), new Set(["/version"]));
  assert.equal(woken, 0, "the server is still down");
  state.up = true;
  await clock.advance(PROBE_EVERY_MS);
  await settle();
  assert.equal(woken, 2, "both waiters woken once");
  stop.abort();
  await loop;
  assert.equal(clock.pending, 0, "no timer left");
});
