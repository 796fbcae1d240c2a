import assert from "node:assert/strict";
import { projectAllocation, samePodAddress, sortedPodAddresses } from "./allocations.ts";

const obj = (ip: string, spec: Record<string, unknown>) => ({
  metadata: { name: ip, resourceVersion: "3" },
  spec: { pool: "p", ip, ...spec },
});

Deno.test("projectAllocation: the routed address of an allocation, null when nobody routes it", () => {
  assert.deepEqual(projectAllocation(obj("10.0.0.5", { node: "n1", state: "Allocated" })), {
    ip: "10.0.0.5",
    node: "n1",
    released: false,
  });
  assert.deepEqual(projectAllocation(obj("10.0.0.6", { node: "n2", state: "Released" })), {
    ip: "10.0.0.6",
    node: "n2",
    released: true,
  });
  assert.equal(projectAllocation(obj("10.0.0.7", { state: "Allocated" })), null, "no node");
  assert.equal(projectAllocation({ spec: {} }), null, "not an allocation");
});

Deno.test("samePodAddress and sortedPodAddresses: equality by field; nulls dropped, sorted, copied", () => {
  const a = { ip: "10.0.0.5", node: "n1", released: false };
  assert.equal(samePodAddress(a, { ...a }), true);
  assert.equal(samePodAddress(a, { ...a, released: true }), false);
  assert.equal(samePodAddress(a, { ...a, node: "n2" }), false);
  assert.equal(samePodAddress(null, null), true);
  assert.equal(samePodAddress(a, null), false);
  const b = { ip: "10.0.0.10", node: "n2", released: true };
  const sorted = sortedPodAddresses([a, null, b, { ...a, ip: "10.0.0.1" }]);
  assert.deepEqual(sorted.map((x) => x.ip), ["10.0.0.1", "10.0.0.10", "10.0.0.5"]);
  assert.notEqual(sorted[2], a, "copies, not the projections held");
});
