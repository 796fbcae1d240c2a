import assert from "node:assert/strict";
import { handleHealth } from "./health.ts";
import { M, Metrics } from "./metrics.ts";

Deno.test("metrics: Prometheus text with help, type, labels and a histogram", () => {
  const m = new Metrics();
  m.inc(M.routeWrites, { op: "add" }, 2);
  m.inc(M.routeWrites, { op: "delete" });
  m.set(M.routesDesired, 4);
  const x = { name: "hostgate_x", type: "gauge", help: "Escapes" } as const;
  m.set(x, 1, { reason: 'a"b\\c' });
  m.observe(M.reconcileDuration, 0.003);
  m.observe(M.reconcileDuration, 2);
  const text = m.render();
  assert.match(
    text,
    /# HELP hostgate_route_writes_total Route writes, by op\n# TYPE hostgate_route_writes_total counter\n/,
  );
  assert.match(text, /\nhostgate_route_writes_total\{op="add"\} 2\n/);
  assert.match(text, /\nhostgate_route_writes_total\{op="delete"\} 1\n/);
  assert.match(text, /\nhostgate_routes_desired 4\n/);
  assert.match(text, /hostgate_x\{reason="a\\"b\\\\c"\} 1/);
  assert.match(text, /\nhostgate_reconcile_duration_seconds_bucket\{le="0.0025"\} 0\n/);
  assert.match(text, /\nhostgate_reconcile_duration_seconds_bucket\{le="0.005"\} 1\n/);
  assert.match(text, /\nhostgate_reconcile_duration_seconds_bucket\{le="\+Inf"\} 2\n/);
  assert.match(text, /\nhostgate_reconcile_duration_seconds_count 2\n/);
  assert.equal(m.value("hostgate_route_writes_total", { op: "add" }), 2);
  assert.equal(m.count("hostgate_reconcile_duration_seconds"), 2);
});

Deno.test("metrics: every catalog metric renders before its first change; types are enforced", () => {
  const m = new Metrics();
  const text = m.render();
  assert.match(
    text,
    /# TYPE hostgate_datastore_events_total counter\nhostgate_datastore_events_total 0\n/,
  );
  assert.match(text, /\nhostgate_reconciles_total 0\n/);
  assert.throws(
    () => m.set(M.reconciles, 1),
    /Cannot set hostgate_reconciles_total: it is a counter/,
  );
  assert.throws(() => m.inc(M.ready), /Cannot increment hostgate_ready: it is a gauge/);
  m.inc(M.routeWrites, { op: "add" });
  assert.doesNotMatch(m.render(), /\nhostgate_route_writes_total 0\n/);
});

Deno.test("health: /healthz, /readyz with reasons, /metrics, 404 and 405", async () => {
  let ready = false;
  const src = {
    live: () => true,
    ready: () => ({ ready, reasons: ready ? [] : ["datastore not connected: refused"] }),
    metrics: () => "hostgate_ready 0\n",
  };
  const get = (path: string, method = "GET") =>
    handleHealth(new Request(`http://x${path}`, { method }), src);
  assert.equal(get("/healthz").status, 200);
  const nr = get("/readyz");
  assert.equal(nr.status, 503);
  assert.equal(await nr.text(), "datastore not connected: refused\n");
  ready = true;
  assert.equal(get("/readyz").status, 200);
  const m = get("/metrics");
  assert.match(m.headers.get("content-type")!, /version=0.0.4/);
  assert.equal(await m.text(), "hostgate_ready 0\n");
  assert.equal(get("/nope").status, 404);
  assert.equal(get("/healthz", "POST").status, 405);
  assert.equal(
    handleHealth(new Request("http://x/healthz"), { ...src, live: () => false }).status,
    503,
  );
});
