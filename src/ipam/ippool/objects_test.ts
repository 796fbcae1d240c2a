import assert from "node:assert/strict";
import {
  allocationName,
  allocationObject,
  heldBy,
  LABEL_CONTAINER,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POOL,
  nodeKey,
  ownerKeys,
  parseAllocation,
  releasedObject,
  selector,
} from "./objects.ts";

const owner = { containerId: "c1", ifname: "eth0", podNamespace: "ns", podName: "web-0" };

Deno.test("object names: IPv4 as written, IPv6 expanded with dashes (valid DNS names)", () => {
  assert.equal(allocationName("10.22.0.5"), "10.22.0.5");
  assert.equal(allocationName("fd00:77::5"), "fd00-0077-0000-0000-0000-0000-0000-0005");
  assert.equal(allocationName("::1"), "0000-0000-0000-0000-0000-0000-0000-0001");
  for (const ip of ["10.22.0.5", "fd00:77::5", "::", "fd00::"]) {
    assert.match(allocationName(ip), /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  }
  assert.throws(() => allocationName("10.22.0.5/24"), /not an address/);
});

Deno.test("owner and node keys are valid label values and distinguish owners", async () => {
  const k = await ownerKeys(owner);
  assert.match(k.container, /^[0-9a-f]{40}$/);
  assert.match(k.pod!, /^[0-9a-f]{40}$/);
  assert.notEqual(
    (await ownerKeys({ ...owner, ifname: "net1" })).container,
    k.container,
  );
  assert.equal((await ownerKeys({ ...owner, containerId: "c2" })).pod, k.pod);
  assert.equal((await ownerKeys({ containerId: "c1", ifname: "eth0" })).pod, undefined);
  assert.equal(await nodeKey("node-a"), "node-a");
  assert.match(await nodeKey("n".repeat(100)), /^[0-9a-f]{40}$/);
  assert.equal(selector({ a: "1", b: "2" }), "a=1,b=2");
});

Deno.test("an allocation object round-trips; a release keeps pod and node, drops the container", async () => {
  const keys = await ownerKeys(owner);
  const obj = allocationObject({
    pool: "p",
    ip: "10.22.0.5",
    node: "node-a",
    nodeKey: "node-a",
    owner,
    keys,
  });
  assert.deepEqual((obj.metadata as { labels: unknown }).labels, {
    [LABEL_POOL]: "p",
    [LABEL_NODE]: "node-a",
    [LABEL_CONTAINER]: keys.container,
    [LABEL_POD]: keys.pod,
  });
  (obj.metadata as Record<string, unknown>).resourceVersion = "7";
  const a = parseAllocation(obj)!;
  assert.equal(a.name, "10.22.0.5");
  assert.equal(a.state, "Allocated");
  assert.equal(a.value, 0x0a160005n);
  assert.ok(heldBy(a, owner));
  assert.ok(!heldBy(a, { ...owner, ifname: "net1" }));
  const rel = releasedObject(a);
  assert.deepEqual(rel.spec, {
    pool: "p",
    ip: "10.22.0.5",
    node: "node-a",
    state: "Released",
    podNamespace: "ns",
    podName: "web-0",
  });
  assert.deepEqual(rel.metadata, {
    name: "10.22.0.5",
    resourceVersion: "7",
    labels: { [LABEL_POOL]: "p", [LABEL_NODE]: "node-a", [LABEL_POD]: keys.pod },
  });
  const r = parseAllocation(rel)!;
  assert.equal(r.state, "Released");
  assert.ok(!heldBy(r, owner));
});

Deno.test("malformed allocation objects are not parsed", () => {
  const meta = { name: "x", resourceVersion: "1" };
  for (
    const bad of [
      null,
      {},
      { metadata: meta },
      { metadata: meta, spec: { pool: "p", ip: "nope", state: "Allocated" } },
      { metadata: meta, spec: { pool: "p", ip: "10.0.0.1", state: "Odd" } },
      { metadata: { name: "x" }, spec: { pool: "p", ip: "10.0.0.1", state: "Allocated" } },
    ]
  ) {
    assert.equal(parseAllocation(bad), undefined, JSON.stringify(bad));
  }
});
