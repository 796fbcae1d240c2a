import assert from "node:assert/strict";
import { FakeNetlink } from "../../system/netlink/mod.ts";
import { HOSTGATE_ROUTE_PROTOCOL } from "../../system/netlink/types.ts";
import type { DesiredRoute } from "../reconcile/mod.ts";
import { memoryLogger } from "../observe/mod.ts";
import { applyRoutePlan, planRoutes, spreadMetric, syncRoutes, toKernelRoute } from "./routes.ts";

function world() {
  const nl = new FakeNetlink();
  const h = nl.open();
  const eth0 = h.addBridge({ name: "eth0" });
  h.setLinkUp(eth0.index);
  h.addAddr({ linkIndex: eth0.index, cidr: "192.168.0.10/16" });
  return { h, link: eth0.index };
}

const peerRoute = (i: number, link: number): DesiredRoute => ({
  peer: `n${i}`,
  family: 4,
  dst: `10.${i >> 8}.${i & 255}.0/24`,
  gateway: `192.168.${(i + 20) >> 8}.${(i + 20) & 255}`,
  linkIndex: link,
});

Deno.test("routes: IPv4 metrics spread over 0-255 by gateway, stable; IPv6 keeps the default", () => {
  const metrics = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const m = spreadMetric(`192.168.${i >> 8}.${i & 255}`);
    assert.ok(Number.isInteger(m) && m >= 0 && m <= 255);
    metrics.add(m);
  }
  assert.ok(metrics.size > 200, `${metrics.size} distinct metrics`);
  assert.equal(spreadMetric("192.168.1.12"), spreadMetric("192.168.1.12"));
  const v4 = toKernelRoute(peerRoute(1, 2));
  assert.equal(v4.metric, spreadMetric(v4.gateway!));
  const v6 = toKernelRoute({
    peer: "b",
    family: 6,
    dst: "fd00:10:244:2::/64",
    gateway: "fd00::12",
    linkIndex: 2,
  });
  assert.equal(v6.metric, undefined);
});

Deno.test("routes: a foreign route on the dst is a conflict whatever its metric", () => {
  const { h, link } = world();
  const want = peerRoute(2, link);
  const metric = (spreadMetric(want.gateway) + 1) % 256;
  h.addRoute({ family: 4, dst: want.dst, gateway: "192.168.0.1", linkIndex: link, metric });
  const res = applyRoutePlan(h, planRoutes([want], [], { allowDelete: true }));
  assert.deepEqual(res.conflicts, [want.dst]);
  assert.equal(res.added, 0);
  const there = h.listRoutes({ family: 4 }).filter((r) => r.dst === want.dst);
  assert.deepEqual(there.map((r) => r.protocol === HOSTGATE_ROUTE_PROTOCOL), [false]);
});

Deno.test("routes: a burst of changes is logged as one line, single changes line by line", () => {
  const { h, link } = world();
  const log = memoryLogger();
  const desired = Array.from({ length: 40 }, (_, i) => peerRoute(i + 1, link));
  const res = syncRoutes(h, { desired, allowDelete: true, log });
  assert.equal(res.added, 40);
  assert.equal(h.listRoutes({ family: 4, protocol: HOSTGATE_ROUTE_PROTOCOL }).length, 40);
  const info = log.lines.filter((l) => l.level === "info").map((l) => l.text);
  assert.equal(info.length, 1, info.join("\n"));
  assert.match(info[0]!, /routes added count=40/);
  assert.equal(log.lines.filter((l) => /DEBUG route added/.test(l.text)).length, 40);
  log.lines.length = 0;
  syncRoutes(h, { desired: desired.slice(1), allowDelete: true, log });
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0]!.text, /INFO +route removed dst=10\.0\.1\.0\/24/);
});
