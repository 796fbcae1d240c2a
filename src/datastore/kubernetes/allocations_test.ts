import { deepEqual as assertEquals } from "node:assert/strict";
import { podAddressesOf } from "./allocations.ts";

function obj(name: string, spec: Record<string, unknown>): unknown {
  return { metadata: { name, resourceVersion: "7" }, spec };
}

Deno.test("podAddressesOf: well-formed allocations with a node, released flagged, sorted", () => {
  const got = podAddressesOf([
    obj("10.0.0.9", { pool: "p", ip: "10.0.0.9", node: "n2", state: "Released" }),
    obj("10.0.0.5", { pool: "p", ip: "10.0.0.5", node: "n1", state: "Allocated" }),
    obj("10.0.0.6", { pool: "p", ip: "10.0.0.6", state: "Allocated" }), // no node
    obj("10.0.0.7", { pool: "p", ip: "not-an-ip", node: "n1", state: "Allocated" }),
    obj("10.0.0.8", { pool: "p", ip: "10.0.0.8", node: "n1", state: "Bogus" }),
    { spec: {} },
    null,
  ]);
  assertEquals(got, [
    { ip: "10.0.0.5", node: "n1", released: false },
    { ip: "10.0.0.9", node: "n2", released: true },
  ]);
});

Deno.test("podAddressesOf: IPv6 canonical", () => {
  const got = podAddressesOf([
    obj("x", { pool: "p", ip: "fd00:0:0::0005", node: "n1", state: "Allocated" }),
  ]);
  assertEquals(got, [{ ip: "fd00::5", node: "n1", released: false }]);
});
