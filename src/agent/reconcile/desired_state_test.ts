import assert from "node:assert/strict";
import type { NodeInfo } from "../../datastore/mod.ts";
import { computeDesired, type LocalAddress, onLinkAddress } from "./desired_state.ts";

const LOCAL: LocalAddress[] = [
  { linkIndex: 1, linkName: "lo", cidr: "127.0.0.1/8" },
  { linkIndex: 2, linkName: "eth0", cidr: "192.168.1.10/24" },
  { linkIndex: 2, linkName: "eth0", cidr: "fd00:1::10/64" },
  { linkIndex: 3, linkName: "hostgate0", cidr: "10.244.1.1/24" },
];

function node(name: string, podCidrs: string[], addresses: string[]): NodeInfo {
  return { name, podCidrs, addresses };
}

const SELF = node("a", ["10.244.1.0/24", "fd00:10:244:1::/64"], ["192.168.1.10", "fd00:1::10"]);

Deno.test("desired: one route per other node and family, via its node IP on the uplink", () => {
  const d = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes: [
      node("c", ["10.244.3.0/24"], ["192.168.1.12"]),
      SELF,
      node("b", ["fd00:10:244:2:0::/64", "10.244.2.0/24"], ["fd00:1:0::11", "192.168.1.11"]),
    ],
  });
  assert.deepEqual(d.selfPodCidrs, ["10.244.1.0/24", "fd00:10:244:1::/64"]);
  assert.deepEqual(d.bridgeGateways, ["10.244.1.1/24", "fd00:10:244:1::1/64"]);
  assert.deepEqual(d.routes, [
    { peer: "b", family: 4, dst: "10.244.2.0/24", gateway: "192.168.1.11", linkIndex: 2 },
    { peer: "c", family: 4, dst: "10.244.3.0/24", gateway: "192.168.1.12", linkIndex: 2 },
    { peer: "b", family: 6, dst: "fd00:10:244:2::/64", gateway: "fd00:1::11", linkIndex: 2 },
  ]);
  assert.deepEqual(d.peers.map((p) => `${p.name}/${p.family}/${p.mode}`), [
    "b/4/host-gw",
    "b/6/host-gw",
    "c/4/host-gw",
  ]);
});

Deno.test("desired: equal input in any order gives equal output", () => {
  const nodes = [
    SELF,
    node("b", ["10.244.2.0/24"], ["192.168.1.11"]),
    node("c", ["10.244.3.0/24"], ["192.168.1.12"]),
  ];
  const one = computeDesired({ selfName: "a", bridge: "hostgate0", localAddrs: LOCAL, nodes });
  const two = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: [...LOCAL].reverse(),
    nodes: [...nodes].reverse(),
  });
  assert.deepEqual(one, two);
});

Deno.test("desired: a peer off-link is skipped with reason not-on-link", () => {
  const d = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes: [SELF, node("far", ["10.244.9.0/24"], ["172.16.0.5"])],
  });
  assert.deepEqual(d.routes, []);
  assert.deepEqual(d.peers, [{
    name: "far",
    family: 4,
    mode: "skip",
    reason: "not-on-link",
    podCidr: "10.244.9.0/24",
    nodeIp: "172.16.0.5",
  }]);
});

Deno.test("desired: the bridge's own subnet never makes a peer on-link", () => {
  const d = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes: [SELF, node("odd", ["10.244.7.0/24"], ["10.244.1.77"])],
  });
  assert.equal(d.peers[0]!.reason, "not-on-link");
  assert.equal(onLinkAddress("10.244.1.77", LOCAL, "hostgate0"), undefined);
  assert.equal(onLinkAddress("192.168.1.99", LOCAL, "hostgate0")!.linkName, "eth0");
});

Deno.test("desired: the longest connected prefix wins", () => {
  const local: LocalAddress[] = [
    { linkIndex: 2, linkName: "eth0", cidr: "10.0.0.5/8" },
    { linkIndex: 4, linkName: "eth1", cidr: "10.1.2.5/24" },
  ];
  assert.equal(onLinkAddress("10.1.2.9", local, "hostgate0")!.linkIndex, 4);
  assert.equal(onLinkAddress("10.9.2.9", local, "hostgate0")!.linkIndex, 2);
});

Deno.test("desired: conflicts and bad entries are skipped, each with its reason", () => {
  const d = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes: [
      SELF,
      node("b1", ["10.244.2.0/24"], ["192.168.1.11"]),
      node("b2", ["10.244.2.0/24"], ["192.168.1.13"]),
      node("mine", ["10.244.1.0/25"], ["192.168.1.14"]),
      node("nov4ip", ["10.244.5.0/24"], ["fd00:1::15"]),
      node("nosubnet", [], ["192.168.1.16"]),
      node("garbage", ["not-a-cidr"], ["192.168.1.17"]),
      node("ghost", ["10.244.6.0/24"], ["192.168.1.10"]),
    ],
  });
  const reasons = Object.fromEntries(d.peers.map((p) => [p.name, p.reason ?? p.mode]));
  assert.deepEqual(reasons, {
    b1: "host-gw",
    b2: "duplicate-subnet",
    garbage: "invalid-entry",
    ghost: "is-local-address",
    mine: "overlaps-own-subnet",
    nosubnet: "no-pod-subnet",
    nov4ip: "no-address-in-family",
  });
  assert.deepEqual(d.routes.map((r) => r.peer), ["b1"]);
});

Deno.test("desired: without its own entry the node has no subnet, but peers still get routes", () => {
  const d = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes: [node("b", ["10.244.2.0/24"], ["192.168.1.11"])],
  });
  assert.equal(d.self, undefined);
  assert.deepEqual(d.selfPodCidrs, []);
  assert.deepEqual(d.bridgeGateways, []);
  assert.equal(d.routes.length, 1);
});
