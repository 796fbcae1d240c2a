import assert from "node:assert/strict";
import type { NodeInfo, PodAddress } from "../../datastore/mod.ts";
import { computeDesired, type DesiredInput, type LocalAddress } from "./desired_state.ts";
import { vtepMac } from "../testing/mac.ts";

const VX = 9;
const LOCAL: LocalAddress[] = [
  { linkIndex: 2, linkName: "eth0", cidr: "192.168.1.10/24" },
  { linkIndex: 2, linkName: "eth0", cidr: "fd00:1::10/64" },
  { linkIndex: 3, linkName: "hostgate0", cidr: "10.244.1.1/24" },
  { linkIndex: 3, linkName: "hostgate0", cidr: "10.244.100.1/22" },
  { linkIndex: VX, linkName: "hostgate.1", cidr: "10.244.1.0/32" },
];

function node(name: string, n: number, ip: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  const vtepIp = `10.244.${n}.0`;
  return {
    name,
    podCidrs: [`10.244.${n}.0/24`, `fd00:10:244:${n}::/64`],
    addresses: [ip, `fd00:1::${n}`],
    vtep: { ip: vtepIp, mac: vtepMac(vtepIp) },
    ...extra,
  };
}

const NODES = [
  node("a", 1, "192.168.1.10"),
  node("b", 2, "192.168.1.11"),
  node("c", 3, "192.168.1.12"),
];

function pa(ip: string, nodeName: string, released = false): PodAddress {
  return { ip, node: nodeName, released };
}

function hostRoutes(input: Partial<DesiredInput> & { podAddresses: PodAddress[] }): string[] {
  const d = computeDesired({
    selfName: "a",
    bridge: "hostgate0",
    localAddrs: LOCAL,
    nodes: NODES,
    ...input,
  });
  return d.routes.filter((r) => r.dst.endsWith("/32") || r.dst.endsWith("/128")).map((r) =>
    `${r.dst} ${r.peer} via ${r.gateway} dev ${r.linkIndex}${r.onlink ? " onlink" : ""}`
  );
}

Deno.test("desired pool: a host route per held pool address of a peer, via the peer like its subnet", () => {
  assert.deepEqual(
    hostRoutes({
      podAddresses: [
        pa("10.244.100.7", "b"),
        pa("10.244.100.9", "c"),
        pa("fd00:99::0007", "b"),
      ],
    }),
    [
      "10.244.100.7/32 b via 192.168.1.11 dev 2",
      "10.244.100.9/32 c via 192.168.1.12 dev 2",
      "fd00:99::7/128 b via fd00:1::2 dev 2",
    ],
  );
});

Deno.test("desired pool: with vxlan the host route goes via the peer's VTEP on the device", () => {
  assert.deepEqual(
    hostRoutes({
      backend: "vxlan",
      vxlanLinkIndex: VX,
      podAddresses: [pa("10.244.100.7", "b")],
    }),
    ["10.244.100.7/32 b via 10.244.2.0 dev 9 onlink"],
  );
});

Deno.test("desired pool: left out: released, own, covered by a subnet, unknown or skipped node", () => {
  const skipped = node("d", 4, "172.16.0.4"); // off-link with host-gw: skipped
  assert.deepEqual(
    hostRoutes({
      nodes: [...NODES, skipped],
      podAddresses: [
        pa("10.244.100.7", "b", true), // released
        pa("10.244.100.8", "a"), // this node's own pod
        pa("10.244.2.50", "b"), // inside b's subnet: its route covers it
        pa("10.244.3.50", "b"), // inside c's subnet: not b's to claim
        pa("10.244.1.50", "b"), // inside this node's subnet
        pa("10.244.100.10", "zz"), // no such node
        pa("10.244.100.11", "d"), // node skipped
        pa("192.168.1.10", "b"), // a local address
        pa("not-an-ip", "b"),
      ],
    }),
    [],
  );
});

Deno.test("desired pool: an address that moves nodes moves its route; order does not matter", () => {
  const before = hostRoutes({ podAddresses: [pa("10.244.100.7", "b"), pa("10.244.100.8", "c")] });
  const after = hostRoutes({ podAddresses: [pa("10.244.100.8", "c"), pa("10.244.100.7", "c")] });
  assert.deepEqual(before, [
    "10.244.100.7/32 b via 192.168.1.11 dev 2",
    "10.244.100.8/32 c via 192.168.1.12 dev 2",
  ]);
  assert.deepEqual(after, [
    "10.244.100.7/32 c via 192.168.1.12 dev 2",
    "10.244.100.8/32 c via 192.168.1.12 dev 2",
  ]);
  // Moved to this node: no route at all (the bridge reaches it).
  assert.deepEqual(hostRoutes({ podAddresses: [pa("10.244.100.7", "a")] }), []);
});
