/**
 * The agent's health server on a real loopback socket: /healthz, /readyz
 * (with its reasons) and /metrics as the kubelet and Prometheus read them.
 * @module
 */
import assert from "node:assert/strict";
import { until } from "../../system/fake_clock.ts";
import { IptablesDriver } from "../firewall/mod.ts";
import { runAgent } from "./run.ts";
import { fakeNode, peer, routesOf } from "../testing/mod.ts";

Deno.test(
  "run: serves /healthz, /readyz and /metrics on its health address until stopped",
  { permissions: { net: ["127.0.0.1"] } },
  async () => {
    const n = fakeNode({
      peers: [peer("b", 2)],
      flags: ["--health-addr=127.0.0.1:0", "--debounce=1s", "--resync-interval=1m"],
    });
    const ac = new AbortController();
    let addr = "";
    let passes = 0;
    const done = runAgent({
      config: n.config,
      netlink: n.nl,
      datastore: n.ds,
      firewall: new IptablesDriver({ v4: n.v4, v6: n.v6 }),
      fs: n.fs,
      clock: n.clock,
      log: n.log,
      metrics: n.metrics,
      signal: ac.signal,
      onHealthListening: (a) => (addr = a),
      onPass: () => passes++,
    });
    const get = async (path: string, method = "GET") => {
      const res = await fetch(`http://${addr}${path}`, { method });
      return { status: res.status, body: await res.text() };
    };
    try {
      await until("the health server", () => addr !== "");
      assert.match(addr, /^127\.0\.0\.1:\d+$/);
      // Listening before the first pass (still in its debounce): alive, not ready.
      assert.deepEqual(await get("/healthz"), { status: 200, body: "ok\n" });
      assert.deepEqual(await get("/readyz"), { status: 503, body: "no reconcile pass yet\n" });
      n.v4.failNextSave();
      await until("the first pass", () => passes === 1, { clock: n.clock, stepMs: 100 });
      const failed = await get("/readyz");
      assert.equal(failed.status, 503);
      assert.match(failed.body, /iptables-save/);
      await until("the retry", () => passes === 2, { clock: n.clock, stepMs: 100 });
      assert.deepEqual(await get("/readyz"), { status: 200, body: "ok\n" });
      const metrics = await get("/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^hostgate_\w+_total(\{[^}]*\})? \d+$/m);
      assert.equal((await get("/nothing")).status, 404);
      assert.equal((await get("/healthz", "POST")).status, 405);
      assert.equal((await get("/healthz", "HEAD")).status, 200);
    } finally {
      ac.abort();
      await done;
    }
    await assert.rejects(fetch(`http://${addr}/healthz`), "the server stopped with the agent");
  },
);

Deno.test(
  "run: a health port in use is retried every few seconds while routing goes on",
  { permissions: { net: ["127.0.0.1"] } },
  async () => {
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (busy.addr as Deno.NetAddr).port;
    const n = fakeNode({
      peers: [peer("b", 2)],
      flags: [`--health-addr=127.0.0.1:${port}`, "--debounce=0s", "--resync-interval=1h"],
    });
    const ac = new AbortController();
    let addr = "";
    const done = runAgent({
      config: n.config,
      netlink: n.nl,
      datastore: n.ds,
      firewall: new IptablesDriver({ v4: n.v4, v6: n.v6 }),
      fs: n.fs,
      clock: n.clock,
      log: n.log,
      metrics: n.metrics,
      signal: ac.signal,
      onHealthListening: (a) => (addr = a),
    });
    try {
      await until("the route", () => routesOf(n.handle).length === 1, { clock: n.clock });
      assert.equal(addr, "", "the port is taken");
      const errors = n.log.lines.filter((l) => l.level === "error").map((l) => l.msg);
      assert.deepEqual(errors, ["Cannot open the health listener; routing goes on, retrying"]);
      busy.close();
      await until("the health server", () => addr !== "", { clock: n.clock, stepMs: 1_000 });
      assert.equal(addr, `127.0.0.1:${port}`);
      assert.equal((await fetch(`http://${addr}/healthz`)).status, 200);
      assert.equal(
        n.log.lines.filter((l) => l.level === "error").length,
        1,
        "the failure is logged once, not per retry",
      );
    } finally {
      ac.abort();
      await done;
    }
  },
);
