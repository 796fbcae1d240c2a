import assert from "node:assert/strict";
import { RealClock } from "../../system/clock.ts";
import { IptablesDriver } from "../firewall/mod.ts";
import type { Reconciler } from "../reconcile/mod.ts";
import { runAgent } from "./run.ts";
import { fakeNode, peer, routesOf } from "../testing/mod.ts";

async function until(what: string, fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Cannot see ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("run: converges, follows datastore events, repairs a deleted route, stops cleanly", async () => {
  const n = fakeNode({
    peers: [peer("b", 2)],
    flags: ["--health-addr=", "--resync-interval=1h", "--debounce=1ms"],
  });
  const ac = new AbortController();
  let last: Reconciler | undefined;
  const done = runAgent({
    config: n.config,
    netlink: n.nl,
    datastore: n.ds,
    firewall: new IptablesDriver({ v4: n.v4, v6: n.v6 }),
    fs: n.fs,
    clock: new RealClock(),
    log: n.log,
    metrics: n.metrics,
    signal: ac.signal,
    onPass: (r) => last = r,
  });
  try {
    await until("ready", () => last?.last?.ready === true);
    assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
    // A datastore event (no timer: the resync interval is an hour).
    n.ds.setNode(peer("c", 3));
    await until("c's route", () => routesOf(n.handle).length === 2);
    // A route deleted behind the agent's back: the monitor sees it and a pass repairs it.
    n.handle.deleteRoute({
      family: 4,
      dst: "10.244.3.0/24",
      gateway: "192.168.1.13",
      protocol: 151,
    });
    await until("repair", () => routesOf(n.handle).includes("10.244.3.0/24 via 192.168.1.13"));
    assert.ok(n.metrics.value("hostgate_route_monitor_events_total", { kind: "delete" }) >= 1);
  } finally {
    ac.abort();
    await done;
  }
  assert.equal(n.ds.closed, true);
  assert.deepEqual(routesOf(n.handle).length, 2, "routes stay after a stop");
});
