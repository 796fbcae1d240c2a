import assert from "node:assert/strict";
import { FakeNetlink } from "../../system/netlink/mod.ts";
import { HOSTGATE_ROUTE_PROTOCOL, type Route } from "../../system/netlink/types.ts";
import type { DesiredRoute } from "../reconcile/mod.ts";
import { applyRoutePlan, ownRoutes, planIsEmpty, planRoutes, removeAllRoutes } from "./routes.ts";

const P = HOSTGATE_ROUTE_PROTOCOL;
const want = (dst: string, gateway: string, peer = "b"): DesiredRoute => ({
  peer,
  family: dst.includes(":") ? 6 : 4,
  dst,
  gateway,
  linkIndex: 2,
});
const have = (dst: string, gateway: string, extra: Partial<Route> = {}): Route => ({
  family: dst.includes(":") ? 6 : 4,
  dst,
  gateway,
  linkIndex: 2,
  protocol: P,
  ...extra,
});

Deno.test("plan: add missing, keep correct, replace wrong gateway, remove gone", () => {
  const plan = planRoutes(
    [
      want("10.244.2.0/24", "192.168.1.11"),
      want("10.244.3.0/24", "192.168.1.12", "c"),
      want("fd00:10:244:2::/64", "fd00:1::11"),
    ],
    [
      have("10.244.2.0/24", "192.168.1.11"),
      have("10.244.3.0/24", "192.168.1.99"),
      have("10.244.4.0/24", "192.168.1.13"),
      have("fd00:10:244:2:0:0::/64", "fd00:1:0:0::11"),
    ],
    { allowDelete: true },
  );
  assert.deepEqual(plan.add, []);
  assert.deepEqual(plan.unchanged.map((r) => r.dst), ["10.244.2.0/24", "fd00:10:244:2::/64"]);
  assert.deepEqual(plan.replace.map((r) => [r.want.gateway, r.have.gateway]), [[
    "192.168.1.12",
    "192.168.1.99",
  ]]);
  assert.deepEqual(plan.remove.map((r) => r.dst), ["10.244.4.0/24"]);
});

Deno.test("plan: a route on another link is wrong; duplicates of one dst collapse to one", () => {
  const plan = planRoutes(
    [want("10.244.2.0/24", "192.168.1.11")],
    [
      have("10.244.2.0/24", "192.168.1.11", { linkIndex: 7 }),
      have("10.244.2.0/24", "192.168.1.11", { metric: 50 }),
    ],
    { allowDelete: true },
  );
  assert.equal(plan.unchanged.length, 1);
  assert.equal(plan.remove.length, 1);
  assert.equal(plan.remove[0]!.linkIndex, 7);
});

Deno.test("plan: nothing is removed while deleting is not allowed", () => {
  const plan = planRoutes([], [have("10.244.4.0/24", "192.168.1.13")], { allowDelete: false });
  assert.equal(planIsEmpty(plan), true);
});

Deno.test("ownRoutes: other protocols and other tables are never hostgate's", () => {
  const rs = ownRoutes([
    have("10.244.2.0/24", "192.168.1.11"),
    have("10.244.5.0/24", "192.168.1.11", { protocol: 4 }),
    have("10.244.6.0/24", "192.168.1.11", { table: 100 }),
  ]);
  assert.deepEqual(rs.map((r) => r.dst), ["10.244.2.0/24"]);
});

function world() {
  const nl = new FakeNetlink();
  const h = nl.open();
  const eth0 = h.addBridge({ name: "eth0" });
  h.setLinkUp(eth0.index);
  h.addAddr({ linkIndex: eth0.index, cidr: "192.168.1.10/24" });
  const route = (protocol: number) => (dst: string, gateway: string) =>
    h.addRoute({ family: 4, dst, gateway, linkIndex: eth0.index, protocol });
  /** Pre-existing routes on eth0: hostgate's (protocol 151) and a foreign one (4). */
  return { nl, h, link: eth0.index, own: route(P), foreign: route(4) };
}

Deno.test("apply: the kernel ends up with exactly the desired routes, tagged 151", () => {
  const { h, link, own, foreign } = world();
  own("10.244.9.0/24", "192.168.1.19");
  foreign("10.50.0.0/16", "192.168.1.1");
  const desired = [
    { ...want("10.244.2.0/24", "192.168.1.11"), linkIndex: link },
    { ...want("10.244.3.0/24", "192.168.1.12", "c"), linkIndex: link },
  ];
  const actual = ownRoutes(h.listRoutes({ family: 4, protocol: P }));
  const res = applyRoutePlan(h, planRoutes(desired, actual, { allowDelete: true }));
  assert.deepEqual([res.added, res.replaced, res.removed, res.errors.length], [2, 0, 1, 0]);
  const after = h.listRoutes({ family: 4 });
  assert.deepEqual(
    after.filter((r) => r.protocol === P).map((r) => `${r.dst} via ${r.gateway}`).sort(),
    ["10.244.2.0/24 via 192.168.1.11", "10.244.3.0/24 via 192.168.1.12"],
  );
  assert.ok(after.some((r) => r.dst === "10.50.0.0/16"), "a foreign route must stay");
  // Second pass: an empty plan.
  const again = planRoutes(desired, ownRoutes(h.listRoutes({ family: 4, protocol: P })), {
    allowDelete: true,
  });
  assert.equal(planIsEmpty(again), true);
});

Deno.test("apply: a foreign route on the same dst is a conflict, not overwritten", () => {
  const { h, link, foreign } = world();
  foreign("10.244.2.0/24", "192.168.1.1");
  const res = applyRoutePlan(
    h,
    planRoutes([{ ...want("10.244.2.0/24", "192.168.1.11"), linkIndex: link }], [], {
      allowDelete: true,
    }),
  );
  assert.deepEqual(res.conflicts, ["10.244.2.0/24"]);
  assert.equal(
    h.listRoutes({ family: 4 }).find((r) => r.dst === "10.244.2.0/24")!.gateway,
    "192.168.1.1",
  );
});

Deno.test("apply: replace changes the gateway in place; removeAllRoutes clears only hostgate's", () => {
  const { nl, h, link, own, foreign } = world();
  own("10.244.2.0/24", "192.168.1.99");
  foreign("10.50.0.0/16", "192.168.1.1");
  nl.clearCalls();
  const res = applyRoutePlan(
    h,
    planRoutes(
      [{ ...want("10.244.2.0/24", "192.168.1.11"), linkIndex: link }],
      ownRoutes(h.listRoutes({ family: 4, protocol: P })),
      { allowDelete: true },
    ),
  );
  assert.equal(res.replaced, 1);
  assert.equal(nl.callsOf("deleteRoute").length, 0, "no delete + re-add");
  assert.equal(h.listRoutes({ family: 4, protocol: P })[0]!.gateway, "192.168.1.11");
  assert.equal(removeAllRoutes(h), 1);
  assert.deepEqual(h.listRoutes({ family: 4, protocol: P }), []);
  assert.ok(h.listRoutes({ family: 4 }).some((r) => r.dst === "10.50.0.0/16"));
});
