import assert from "node:assert/strict";
import type { RouteEvent } from "../../system/netlink/types.ts";
import type { DesiredRoute } from "../reconcile/mod.ts";
import { RouteExpectation } from "./route_echo.ts";

const want: DesiredRoute = {
  peer: "b",
  family: 4,
  dst: "10.244.2.0/24",
  gateway: "192.168.1.12",
  linkIndex: 2,
};

function ev(kind: RouteEvent["kind"], extra: Partial<RouteEvent["route"]> = {}): RouteEvent {
  return {
    kind,
    route: {
      family: 4,
      dst: "10.244.2.0/24",
      gateway: "192.168.1.12",
      linkIndex: 2,
      protocol: 151,
      table: 254,
      metric: 17,
      ...extra,
    },
  };
}

Deno.test("route echo: the agent's own writes need no pass", () => {
  const e = new RouteExpectation();
  e.set([want]);
  assert.equal(e.isEcho(ev("add")), true, "the wanted route appearing");
  assert.equal(e.isEcho(ev("delete", { dst: "10.244.9.0/24" })), true, "an unwanted one going");
});

Deno.test("route echo: changes behind the agent's back wake it", () => {
  const e = new RouteExpectation();
  e.set([want]);
  assert.equal(e.isEcho(ev("delete")), false, "a wanted route deleted");
  assert.equal(e.isEcho(ev("add", { gateway: "192.168.1.99" })), false, "wrong gateway");
  assert.equal(e.isEcho(ev("add", { linkIndex: 3 })), false, "wrong link");
  assert.equal(e.isEcho(ev("add", { onlink: true })), false, "onlink where none is wanted");
  assert.equal(e.isEcho(ev("add", { dst: "10.244.9.0/24" })), false, "an unwanted 151 route");
  assert.equal(e.isEcho(ev("add", { protocol: 4 })), false, "another owner's route");
  assert.equal(e.isEcho(ev("delete", { protocol: 2, dst: "192.168.1.0/24" })), false);
  assert.equal(e.isEcho(ev("add", { table: 100 })), false, "another table");
});

Deno.test("route echo: nothing is an echo before the first pass", () => {
  assert.equal(new RouteExpectation().isEcho(ev("add")), false);
});
