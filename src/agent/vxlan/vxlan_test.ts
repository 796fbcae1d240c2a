import assert from "node:assert/strict";
import { FakeNetlink } from "../../system/netlink/mod.ts";
import type { VxlanPeer } from "../reconcile/mod.ts";
import { vtepMac } from "../testing/mac.ts";
import {
  applyVxlanRemovals,
  applyVxlanSets,
  ensureVxlanDevice,
  planVxlan,
  readVxlanEntries,
  removeVxlanDevices,
  vtepOfDevice,
  type VxlanDeviceSpec,
  vxlanPlanIsEmpty,
} from "./vxlan.ts";

const B: VxlanPeer = {
  peer: "b",
  vtepIp: "10.244.2.0",
  vtepMac: vtepMac("10.244.2.0"),
  nodeIp: "172.16.0.2",
};
const C: VxlanPeer = {
  peer: "c",
  vtepIp: "10.244.3.0",
  vtepMac: vtepMac("10.244.3.0"),
  nodeIp: "172.16.0.3",
};

function uplinkNode() {
  const nl = new FakeNetlink();
  nl.addNetns("/run/netns/sw");
  const h = nl.open();
  const eth0 = h.addVeth({ name: "eth0", peerName: "p", peerNetns: "/run/netns/sw", mtu: 1500 });
  h.setLinkUp(eth0.index);
  h.addAddr({ linkIndex: eth0.index, cidr: "192.168.1.10/24" });
  const spec: VxlanDeviceSpec = {
    name: "hostgate.1",
    vni: 1,
    port: 8472,
    local: "192.168.1.10",
    underlay: eth0.index,
    mtu: 1450,
    vtep: { ip: "10.244.1.0", mac: vtepMac("10.244.1.0") },
  };
  return { nl, h, eth0, spec };
}

Deno.test("vxlan device: created as specified, then left alone", () => {
  const { nl, h, eth0, spec } = uplinkNode();
  const first = ensureVxlanDevice(h, spec);
  assert.equal(first.writes, 3, "create, address, up");
  const l = h.getLink("hostgate.1")!;
  assert.deepEqual(
    [l.kind, l.mtu, l.mac, l.up],
    ["vxlan", 1450, "0e:68:0a:f4:01:00", true],
  );
  assert.deepEqual(l.vxlan, {
    vni: 1,
    port: 8472,
    local: "192.168.1.10",
    underlay: eth0.index,
    learning: false,
  });
  assert.deepEqual(h.listAddrs({ linkIndex: l.index }).map((a) => a.cidr), ["10.244.1.0/32"]);
  assert.deepEqual(vtepOfDevice(h, "hostgate.1"), spec.vtep);
  nl.clearCalls();
  assert.equal(ensureVxlanDevice(h, spec).writes, 0);
  assert.deepEqual(nl.calls.map((c) => c.op).filter((op) => !/^(get|list)/.test(op)), []);
});

Deno.test("vxlan device: drift is fixed in place; a fixed attribute recreates it with its MAC", () => {
  const { h, spec } = uplinkNode();
  const l = ensureVxlanDevice(h, spec).link;
  h.setMtu(l.index, 1500);
  h.addAddr({ linkIndex: l.index, cidr: "10.244.9.0/32" });
  h.setLinkDown(l.index);
  const fixed = ensureVxlanDevice(h, spec);
  assert.equal(fixed.recreated, undefined);
  assert.equal(fixed.link.index, l.index, "same device");
  assert.deepEqual([fixed.link.mtu, fixed.link.up], [1450, true]);
  assert.deepEqual(h.listAddrs({ linkIndex: l.index }).map((a) => a.cidr), ["10.244.1.0/32"]);

  const moved = ensureVxlanDevice(h, { ...spec, local: "192.168.1.50" });
  assert.match(moved.recreated!, /local 192\.168\.1\.10 instead of 192\.168\.1\.50/);
  assert.notEqual(moved.link.index, l.index);
  assert.equal(moved.link.mac, spec.vtep.mac, "peers' FDB and neighbour entries stay valid");
  assert.equal(moved.link.vxlan!.local, "192.168.1.50");
  assert.match(ensureVxlanDevice(h, { ...spec, vni: 7 }).recreated!, /vni 1 instead of 7/);
});

Deno.test("vxlan device: a foreign link with the name is refused, never replaced", () => {
  const { h, spec } = uplinkNode();
  h.addBridge({ name: "hostgate.1" });
  assert.throws(
    () => ensureVxlanDevice(h, spec),
    /Cannot use hostgate\.1 as the vxlan device: it is a bridge/,
  );
  assert.equal(removeVxlanDevices(h, "hostgate.1"), 0, "not a vxlan device: not ours");
  assert.equal(h.getLink("hostgate.1")!.kind, "bridge");
});

Deno.test("vxlan device: removal takes hostgate's devices only", () => {
  const { h, spec, eth0 } = uplinkNode();
  ensureVxlanDevice(h, spec);
  ensureVxlanDevice(h, { ...spec, name: "hostgate.7", vni: 7 });
  h.addVxlan({ name: "flannel.1", vni: 2, port: 8472, underlay: eth0.index });
  assert.equal(removeVxlanDevices(h, "hostgate.1"), 2);
  assert.deepEqual(h.listLinks().filter((l) => l.kind === "vxlan").map((l) => l.name), [
    "flannel.1",
  ]);
});

Deno.test("vxlan plan: missing entries set, correct ones kept, wrong ones fixed in place", () => {
  const fresh = planVxlan([B, C], { neighbors: [], fdb: [] }, { linkIndex: 5, allowDelete: true });
  assert.deepEqual(fresh.setNeighbors, [
    { linkIndex: 5, ip: "10.244.2.0", mac: B.vtepMac, permanent: true },
    { linkIndex: 5, ip: "10.244.3.0", mac: C.vtepMac, permanent: true },
  ]);
  assert.deepEqual(fresh.setFdb, [
    { linkIndex: 5, mac: B.vtepMac, dst: "172.16.0.2" },
    { linkIndex: 5, mac: C.vtepMac, dst: "172.16.0.3" },
  ]);
  const actual = {
    neighbors: [
      { linkIndex: 5, ip: "10.244.2.0", mac: B.vtepMac.toUpperCase(), permanent: true },
      { linkIndex: 5, ip: "10.244.3.0", mac: C.vtepMac, permanent: false },
    ],
    fdb: [
      { linkIndex: 5, mac: B.vtepMac, dst: "172.16.0.2" },
      { linkIndex: 5, mac: C.vtepMac, dst: "172.16.0.99" },
    ],
  };
  const p = planVxlan([B, C], actual, { linkIndex: 5, allowDelete: false });
  assert.deepEqual(p.setNeighbors.map((n) => n.ip), ["10.244.3.0"], "not permanent: replaced");
  assert.deepEqual(p.setFdb, [{ linkIndex: 5, mac: C.vtepMac, dst: "172.16.0.3" }]);
  assert.deepEqual(p.removeFdb, [], "the wrong remote is replaced in place, not deleted");
  const two = planVxlan([C], {
    neighbors: [],
    fdb: [...actual.fdb.slice(1), { linkIndex: 5, mac: C.vtepMac, dst: "172.16.0.98" }],
  }, { linkIndex: 5, allowDelete: false });
  assert.deepEqual(two.setFdb.length, 1);
  assert.deepEqual(
    two.removeFdb.map((e) => e.dst),
    ["172.16.0.98"],
    "an extra remote of a wanted MAC goes even now",
  );
  assert.deepEqual(p.removeNeighbors, []);
  const correct = {
    neighbors: [actual.neighbors[0]!],
    fdb: [actual.fdb[0]!],
  };
  assert.ok(vxlanPlanIsEmpty(planVxlan([B], correct, { linkIndex: 5, allowDelete: true })));
});

Deno.test("vxlan plan: entries of gone peers go only when deleting is allowed", () => {
  const actual = {
    neighbors: [{ linkIndex: 5, ip: "10.244.3.0", mac: C.vtepMac, permanent: true }],
    fdb: [
      { linkIndex: 5, mac: C.vtepMac, dst: "172.16.0.3" },
      { linkIndex: 5, mac: "00:00:00:00:00:00", dst: "172.16.0.8" },
    ],
  };
  const keep = planVxlan([], actual, { linkIndex: 5, allowDelete: false });
  assert.ok(vxlanPlanIsEmpty(keep));
  const drop = planVxlan([], actual, { linkIndex: 5, allowDelete: true });
  assert.deepEqual(drop.removeNeighbors, actual.neighbors);
  assert.deepEqual(drop.removeFdb, actual.fdb);
});

Deno.test("vxlan apply: sets and removals reach the kernel, on the device only", () => {
  const { h, spec } = uplinkNode();
  const dev = ensureVxlanDevice(h, spec).link;
  const other = h.addVxlan({ name: "other.9", vni: 9, port: 4789 });
  h.setFdb({ linkIndex: other.index, mac: C.vtepMac, dst: "172.16.0.3" });
  h.setNeighbor({ linkIndex: other.index, ip: "10.244.3.0", mac: C.vtepMac, permanent: true });
  const plan = planVxlan([B], readVxlanEntries(h, dev.index), {
    linkIndex: dev.index,
    allowDelete: true,
  });
  assert.deepEqual(applyVxlanSets(h, plan), { neighbors: 1, fdb: 1, errors: [] });
  assert.deepEqual(readVxlanEntries(h, dev.index), {
    neighbors: [{ linkIndex: dev.index, ip: "10.244.2.0", mac: B.vtepMac, permanent: true }],
    fdb: [{ linkIndex: dev.index, mac: B.vtepMac, dst: "172.16.0.2" }],
  });
  const gone = planVxlan([], readVxlanEntries(h, dev.index), {
    linkIndex: dev.index,
    allowDelete: true,
  });
  h.deleteNeighbor({ linkIndex: dev.index, ip: "10.244.2.0" }); // vanished meanwhile: fine
  assert.deepEqual(applyVxlanRemovals(h, gone), { neighbors: 0, fdb: 1, errors: [] });
  assert.deepEqual(readVxlanEntries(h, dev.index), { neighbors: [], fdb: [] });
  assert.equal(readVxlanEntries(h, other.index).fdb.length, 1, "another device is untouched");
  assert.equal(readVxlanEntries(h, other.index).neighbors.length, 1);
});
