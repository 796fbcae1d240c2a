import assert from "node:assert/strict";
import type { NodeInfo } from "../../datastore/mod.ts";
import type { Backend } from "../cli/mod.ts";
import { computeDesired, type DesiredState, type LocalAddress } from "./desired_state.ts";
import { vtepMac } from "../testing/mac.ts";

const VX = 9; // ifindex of the vxlan device
const LOCAL: LocalAddress[] = [
  { linkIndex: 2, linkName: "eth0", cidr: "192.168.1.10/24" },
  { linkIndex: 2, linkName: "eth0", cidr: "fd00:1::10/64" },
  { linkIndex: 3, linkName: "hostgate0", cidr: "10.244.1.1/24" },
  { linkIndex: VX, linkName: "hostgate.1", cidr: "10.244.1.0/32" },
];

/** A node with pod subnet 10.244.<n>.0/24, its VTEP, and node IP `ip`. */
function node(name: string, n: number, ip: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  const vtepIp = `10.244.${n}.0`;
  return {
    name,
    podCidrs: [`10.244.${n}.0/24`],
    addresses: [ip],
    vtep: { ip: vtepIp, mac: vtepMac(vtepIp) },
    ...extra,
  };
}

const SELF = node("a", 1, "192.168.1.10");
const NEAR = node("near", 2, "192.168.1.12");
const FAR = node("far", 3, "172.16.0.3");

function desired(backend: Backend, nodes: NodeInfo[], device = true): DesiredState {
  return computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes,
    backend,
    vxlanLinkIndex: device ? VX : undefined,
  });
}

const modes = (d: DesiredState) =>
  Object.fromEntries(d.peers.map((p) => [`${p.name}/${p.family}`, p.reason ?? p.mode]));

Deno.test("desired host-gw: never tunnels, announces no VTEP, off-link peers skipped", () => {
  const d = desired("host-gw", [SELF, NEAR, FAR]);
  assert.deepEqual(modes(d), { "far/4": "not-on-link", "near/4": "host-gw" });
  assert.equal(d.selfVtep, undefined);
  assert.deepEqual(d.vxlan, []);
});

Deno.test("desired auto: on-link peer direct, off-link peer through its VTEP", () => {
  const d = desired("auto", [FAR, SELF, NEAR]);
  assert.deepEqual(modes(d), { "far/4": "vxlan", "near/4": "host-gw" });
  assert.deepEqual(d.selfVtep, { ip: "10.244.1.0", mac: "0e:68:0a:f4:01:00" });
  assert.deepEqual(d.routes, [
    { peer: "near", family: 4, dst: "10.244.2.0/24", gateway: "192.168.1.12", linkIndex: 2 },
    {
      peer: "far",
      family: 4,
      dst: "10.244.3.0/24",
      gateway: "10.244.3.0",
      linkIndex: VX,
      onlink: true,
    },
  ]);
  assert.deepEqual(d.vxlan, [
    { peer: "far", vtepIp: "10.244.3.0", vtepMac: "0e:68:0a:f4:03:00", nodeIp: "172.16.0.3" },
  ]);
});

Deno.test("desired vxlan: every IPv4 peer through the tunnel, on-link ones too", () => {
  const d = desired("vxlan", [SELF, NEAR, FAR]);
  assert.deepEqual(modes(d), { "far/4": "vxlan", "near/4": "vxlan" });
  assert.deepEqual(d.routes.map((r) => `${r.dst} via ${r.gateway} dev ${r.linkIndex}`), [
    "10.244.2.0/24 via 10.244.2.0 dev 9",
    "10.244.3.0/24 via 10.244.3.0 dev 9",
  ]);
  assert.deepEqual(d.vxlan.map((v) => `${v.vtepMac}>${v.nodeIp}`), [
    "0e:68:0a:f4:03:00>172.16.0.3",
    "0e:68:0a:f4:02:00>192.168.1.12",
  ]);
});

Deno.test("desired vxlan: IPv6 has no VTEP address and stays host-gw where on-link", () => {
  const dual = (n: NodeInfo, v6: string, ip6: string): NodeInfo => ({
    ...n,
    podCidrs: [...n.podCidrs, v6],
    addresses: [...n.addresses, ip6],
  });
  const d = desired("vxlan", [
    dual(SELF, "fd00:10:244:1::/64", "fd00:1::10"),
    dual(NEAR, "fd00:10:244:2::/64", "fd00:1::12"),
    dual(FAR, "fd00:10:244:3::/64", "fd00:9::3"),
  ]);
  assert.deepEqual(modes(d), {
    "far/4": "vxlan",
    "far/6": "not-on-link",
    "near/4": "vxlan",
    "near/6": "host-gw",
  });
});

Deno.test("desired auto: a peer without a usable VTEP, a duplicate VTEP, no device", () => {
  const d = desired("auto", [
    SELF,
    node("novtep", 4, "172.16.0.4", { vtep: undefined }),
    node("outside", 5, "172.16.0.5", { vtep: { ip: "10.244.99.0", mac: vtepMac("10.244.99.0") } }),
    node("badmac", 6, "172.16.0.6", { vtep: { ip: "10.244.6.0", mac: "nope" } }),
    node("twin1", 7, "172.16.0.7", { vtep: { ip: "10.244.7.0", mac: "0e:00:00:00:00:07" } }),
    node("twin2", 8, "172.16.0.8", { vtep: { ip: "10.244.8.0", mac: "0E:00:00:00:00:07" } }),
    node("selfmac", 9, "172.16.0.9", { vtep: { ip: "10.244.9.0", mac: "0e:68:0a:f4:01:00" } }),
  ]);
  assert.deepEqual(modes(d), {
    "badmac/4": "no-vtep",
    "novtep/4": "no-vtep",
    "outside/4": "no-vtep",
    "selfmac/4": "duplicate-vtep",
    "twin1/4": "vxlan",
    "twin2/4": "duplicate-vtep",
  });
  assert.deepEqual(d.vxlan.map((v) => v.peer), ["twin1"]);
  const nodev = desired("auto", [SELF, NEAR, FAR], false);
  assert.deepEqual(modes(nodev), { "far/4": "vxlan-unavailable", "near/4": "host-gw" });
  assert.deepEqual(nodev.vxlan, []);
});

Deno.test("desired auto: a node that moves subnet switches mode, both ways", () => {
  const moved = { ...FAR, addresses: ["192.168.1.33"] };
  const near = desired("auto", [SELF, moved]);
  assert.deepEqual(modes(near), { "far/4": "host-gw" });
  assert.deepEqual(near.routes[0], {
    peer: "far",
    family: 4,
    dst: "10.244.3.0/24",
    gateway: "192.168.1.33",
    linkIndex: 2,
  });
  assert.deepEqual(near.vxlan, []);
  const back = desired("auto", [SELF, FAR]);
  assert.deepEqual(modes(back), { "far/4": "vxlan" });
  assert.equal(back.routes[0]!.onlink, true);
});

Deno.test("desired vxlan: equal input in any order gives equal output", () => {
  const nodes = [SELF, NEAR, FAR, node("z", 4, "172.16.0.4")];
  assert.deepEqual(desired("vxlan", nodes), desired("vxlan", [...nodes].reverse()));
  assert.deepEqual(desired("auto", nodes), desired("auto", [...nodes].reverse()));
});
