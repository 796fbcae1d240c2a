/**
 * The VXLAN device when someone else changed it: what forces a re-create
 * (attributes the kernel will not change in place) and what is repaired in
 * place (MAC, MTU, addresses, link state), counted as writes.
 * @module
 */
import assert from "node:assert/strict";
import { FakeNetlink, NotFoundError } from "../../system/netlink/mod.ts";
import type { Link } from "../../system/netlink/types.ts";
import { vtepMac } from "../testing/mac.ts";
import {
  deviceMismatch,
  ensureVxlanDevice,
  removeVxlanDevices,
  type VxlanDeviceSpec,
} from "./vxlan.ts";

const SPEC: VxlanDeviceSpec = {
  name: "hostgate.1",
  vni: 1,
  port: 8472,
  local: "192.168.1.10",
  underlay: 2,
  mtu: 1450,
  vtep: { ip: "10.244.1.0", mac: vtepMac("10.244.1.0") },
};

const link = (vxlan?: Link["vxlan"]): Link =>
  ({ index: 5, name: "hostgate.1", kind: "vxlan", mtu: 1450, up: true, vxlan }) as Link;
const good = { vni: 1, port: 8472, learning: false, local: "192.168.1.10", underlay: 2 };

Deno.test("deviceMismatch: names the attribute that forces a re-create", () => {
  assert.equal(deviceMismatch(link(good), SPEC), undefined);
  assert.equal(deviceMismatch(link(), SPEC), "no vxlan attributes");
  assert.equal(deviceMismatch(link({ ...good, vni: 2 }), SPEC), "vni 2 instead of 1");
  assert.equal(deviceMismatch(link({ ...good, port: 4789 }), SPEC), "port 4789 instead of 8472");
  assert.equal(deviceMismatch(link({ ...good, learning: true }), SPEC), "learning is on");
  assert.equal(
    deviceMismatch(link({ ...good, local: undefined }), SPEC),
    "local unset instead of 192.168.1.10",
  );
  assert.equal(
    deviceMismatch(link({ ...good, underlay: 3 }), SPEC),
    "underlay 3 instead of 2",
  );
  assert.equal(
    deviceMismatch(link({ ...good, underlay: 3 }), { ...SPEC, underlay: undefined }),
    undefined,
    "no underlay asked: any is fine",
  );
});

Deno.test("vxlan device: MAC, MTU, stray addresses and link state are repaired in place", () => {
  const nl = new FakeNetlink();
  nl.addNetns("/run/netns/sw");
  const h = nl.open();
  const eth0 = h.addVeth({ name: "eth0", peerName: "p", peerNetns: "/run/netns/sw", mtu: 1500 });
  h.addAddr({ linkIndex: eth0.index, cidr: "192.168.1.10/24" });
  const spec = { ...SPEC, underlay: eth0.index };
  ensureVxlanDevice(h, spec);
  const dev = h.getLink("hostgate.1")!;
  h.setMac(dev.index, "02:00:00:00:00:99");
  h.setMtu(dev.index, 1400);
  h.addAddr({ linkIndex: dev.index, cidr: "10.9.9.9/24" });
  h.setLinkDown(dev.index);
  const r = ensureVxlanDevice(h, spec);
  assert.equal(r.recreated, undefined, "nothing here needs a new device");
  assert.equal(r.writes, 4, "mac, mtu, one stray address, up");
  const after = h.getLink("hostgate.1")!;
  assert.equal(after.index, dev.index);
  assert.deepEqual([after.mac, after.mtu, after.up], [spec.vtep.mac, 1450, true]);
  assert.deepEqual(h.listAddrs({ linkIndex: dev.index, family: 4 }).map((a) => a.cidr), [
    "10.244.1.0/32",
  ]);
  assert.equal(ensureVxlanDevice(h, spec).writes, 0);
});

Deno.test("removeVxlanDevices: own devices only; one already gone is not an error", () => {
  const nl = new FakeNetlink();
  const h = nl.open();
  h.addVxlan({ name: "hostgate.1", vni: 1, port: 8472 });
  h.addVxlan({ name: "flannel.1", vni: 2, port: 8473 });
  const real = h.deleteLink.bind(h);
  let first = true;
  h.deleteLink = (index: number) => {
    real(index);
    if (first) {
      first = false;
      throw new NotFoundError(19, "Cannot delete link: gone meanwhile");
    }
  };
  assert.equal(removeVxlanDevices(h, "hostgate.1"), 0, "gone before we got to it");
  assert.deepEqual(h.listLinks().filter((l) => l.kind === "vxlan").map((l) => l.name), [
    "flannel.1",
  ]);
});
