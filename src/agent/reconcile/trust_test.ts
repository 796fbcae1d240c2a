import assert from "node:assert/strict";
import type { NodeInfo } from "../../datastore/mod.ts";
import {
  acceptedOwners,
  badGatewayWhy,
  endpointIps,
  incumbentsOf,
  REJECT_REASONS,
  type TrustInput,
  trustNodes,
} from "./trust.ts";

const own = (n: Omit<NodeInfo, "ownership">, subnets = n.podCidrs): NodeInfo => ({
  ...n,
  ownership: { source: "claim", subnets },
});

function input(nodes: NodeInfo[], extra: Partial<TrustInput> = {}): TrustInput {
  return {
    selfName: "a",
    nodes,
    clusterCidrs: ["10.244.0.0/16", "fd00:10:244::/56"],
    prefixLengths: { 4: 24, 6: 64 },
    serviceCidrs: ["10.96.0.0/12"],
    protectedIps: ["10.244.9.9"],
    localAddrs: [
      { linkIndex: 2, linkName: "eth0", cidr: "192.168.1.10/24" },
      { linkIndex: 1, linkName: "lo", cidr: "127.0.0.1/8" },
      { linkIndex: 3, linkName: "cni0", cidr: "10.244.0.1/24" },
    ],
    bridge: "cni0",
    ...extra,
  };
}

const self = own({ name: "a", podCidrs: ["10.244.0.0/24"], addresses: ["192.168.1.10"] });
const good = own({ name: "b", podCidrs: ["10.244.1.0/24"], addresses: ["192.168.1.11"] });

function reasonsOf(bad: NodeInfo, extra: Partial<TrustInput> = {}) {
  const t = trustNodes(input([self, good, bad], extra));
  // The valid peer is always kept whole.
  assert.deepEqual(t.nodes.find((n) => n.name === "b")?.podCidrs, ["10.244.1.0/24"]);
  assert.deepEqual(t.nodes.find((n) => n.name === "b")?.addresses, ["192.168.1.11"]);
  return { t, reasons: t.rejects.filter((r) => r.node === bad.name).map((r) => r.reason) };
}

Deno.test("trust: a valid peer passes untouched, with no reject", () => {
  const t = trustNodes(input([self, good]));
  assert.deepEqual(t.rejects, []);
  assert.deepEqual(t.nodes.map((n) => n.podCidrs), [["10.244.0.0/24"], ["10.244.1.0/24"]]);
});

Deno.test("trust: every subnet reject reason", () => {
  const cases: [NodeInfo, string, Partial<TrustInput>?][] = [
    [
      own({ name: "x", podCidrs: ["128.0.0.0/1"], addresses: ["192.168.1.20"] }),
      "outside-cluster-cidr",
    ],
    [
      own({ name: "x", podCidrs: ["169.254.169.254/32"], addresses: ["192.168.1.20"] }),
      "outside-cluster-cidr",
    ],
    [
      own({ name: "x", podCidrs: ["10.96.0.0/12"], addresses: ["192.168.1.20"] }),
      "outside-cluster-cidr",
    ],
    [
      own({ name: "x", podCidrs: ["192.168.1.0/25"], addresses: ["192.168.1.20"] }),
      "outside-cluster-cidr",
    ],
    [own({ name: "x", podCidrs: ["10.244.8.0/23"], addresses: ["192.168.1.20"] }), "prefix-length"],
    [
      own({ name: "x", podCidrs: ["10.244.9.0/24"], addresses: ["192.168.1.20"] }),
      "covers-protected",
    ],
    [own({ name: "x", podCidrs: ["10.244.0.0/24"], addresses: ["192.168.1.20"] }), "overlap"],
    [own({ name: "x", podCidrs: ["10.244.1.0/24"], addresses: ["192.168.1.20"] }, []), "not-owned"],
    [
      own({ name: "x", podCidrs: ["10.244.1.0/24"], addresses: ["192.168.1.20"] }, [
        "10.244.5.0/24",
      ]),
      "not-owned",
    ],
    [own({ name: "x", podCidrs: ["10.244.1.0/24 "], addresses: ["192.168.1.20"] }), "garbage"],
    [
      own({ name: "x", podCidrs: ["10.100.0.0/24"], addresses: ["192.168.1.20"] }),
      "service-range",
      {
        clusterCidrs: ["10.0.0.0/8"],
      },
    ],
    [
      own({ name: "x", podCidrs: ["10.244.200.0/24"], addresses: ["192.168.1.20"] }),
      "covers-protected",
      {
        localAddrs: [
          { linkIndex: 2, linkName: "eth0", cidr: "192.168.1.10/24" },
          { linkIndex: 4, linkName: "eth1", cidr: "10.244.200.5/24" },
        ],
      },
    ],
  ];
  for (const [bad, reason, extra] of cases) {
    const { t, reasons } = reasonsOf(bad, extra);
    assert.deepEqual(reasons, [reason], `${bad.podCidrs} -> ${reason}`);
    assert.deepEqual(t.nodes.find((n) => n.name === "x")?.podCidrs, [], `${bad.podCidrs} dropped`);
    assert.equal(t.rejects[0]!.field, "podCidrs");
  }
});

Deno.test("trust: bad gateways and VTEPs are dropped, the subnet stays", () => {
  const bads = [
    "192.168.1.255",
    "192.168.1.0",
    "127.0.0.1",
    "169.254.169.254",
    "224.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "10.244.3.1",
    "10.96.0.1",
    "fe80::1",
    "ff02::1",
    "::1",
  ];
  for (const gw of bads) {
    const bad = own({ name: "x", podCidrs: ["10.244.3.0/24"], addresses: [gw] });
    const { t, reasons } = reasonsOf(bad);
    assert.deepEqual(reasons, ["bad-gateway"], gw);
    assert.deepEqual(t.nodes.find((n) => n.name === "x")?.addresses, [], gw);
    assert.deepEqual(t.nodes.find((n) => n.name === "x")?.podCidrs, ["10.244.3.0/24"], gw);
  }
  assert.equal(
    badGatewayWhy("192.168.1.255", input([])),
    "the broadcast address of 192.168.1.0/24",
  );
  for (
    const vtep of [
      { ip: "10.244.7.0", mac: "02:00:00:00:00:01" },
      { ip: "10.244.3.0", mac: "01:00:5e:00:00:01" },
      { ip: "10.244.3.0", mac: "00:00:00:00:00:00" },
      { ip: "10.244.3.0", mac: "nope" },
    ]
  ) {
    const bad = own({ name: "x", podCidrs: ["10.244.3.0/24"], addresses: ["192.168.1.20"], vtep });
    const { t, reasons } = reasonsOf(bad);
    assert.deepEqual(reasons, ["bad-vtep"], JSON.stringify(vtep));
    assert.equal(t.nodes.find((n) => n.name === "x")?.vtep, undefined);
  }
});

Deno.test("trust: a peer needing VXLAN without a published VTEP is counted", () => {
  const vtep = { ip: "10.244.3.0", mac: "1a:2b:3c:4d:5e:6f" };
  const far = own({ name: "x", podCidrs: ["10.244.3.0/24"], addresses: ["172.16.0.3"] });
  const near = own({ name: "x", podCidrs: ["10.244.3.0/24"], addresses: ["192.168.1.20"] });
  const missing = (bad: NodeInfo, backend: TrustInput["backend"]) =>
    reasonsOf(bad, backend ? { backend } : {}).t.rejects.filter((r) => r.node === "x");
  // vxlan: every peer is tunnelled; auto: only those on no local segment.
  assert.deepEqual(missing(near, "vxlan").map((r) => [r.field, r.value, r.reason]), [
    ["vtep", "-", "missing-vtep"],
  ]);
  assert.deepEqual(missing(far, "auto").map((r) => r.reason), ["missing-vtep"]);
  assert.deepEqual(missing(near, "auto"), [], "on-link in auto mode: host-gw, no VTEP needed");
  assert.deepEqual(missing(far, "host-gw"), []);
  assert.deepEqual(missing(far, undefined), []);
  assert.deepEqual(missing({ ...far, vtep }, "vxlan"), [], "a published VTEP is enough");
  // An invalid VTEP is removed, and the peer then lacks one: both are counted.
  assert.deepEqual(
    missing({ ...far, vtep: { ...vtep, mac: "01:00:5e:00:00:01" } }, "vxlan")
      .map((r) => r.reason).sort(),
    ["bad-vtep", "missing-vtep"],
  );
  // This node's own entry is never judged; a peer with no IPv4 subnet needs no VTEP.
  const t = trustNodes(input([self, good], { backend: "vxlan" }));
  assert.deepEqual(t.rejects.filter((r) => r.node === "a"), []);
  assert.ok(REJECT_REASONS.includes("missing-vtep"));
});

Deno.test("trust: conflicts go to the stronger ownership record, never to name order", () => {
  const spec = {
    ...good,
    name: "z",
    ownership: { source: "node-spec" as const, subnets: ["10.244.1.0/24"] },
  };
  const alloc = {
    ...good,
    name: "b",
    ownership: { source: "allocation" as const, subnets: ["10.244.1.0/24"] },
  };
  const t = trustNodes(input([self, alloc, spec]));
  assert.deepEqual(t.nodes.find((n) => n.name === "z")?.podCidrs, ["10.244.1.0/24"]);
  assert.deepEqual(t.nodes.find((n) => n.name === "b")?.podCidrs, []);
  assert.deepEqual(t.rejects.map((r) => [r.node, r.reason]), [["b", "overlap"]]);
  // Two equal records: neither is routed (whatever the names).
  const t2 = trustNodes(input([self, good, { ...good, name: "0first" }]));
  assert.deepEqual(t2.nodes.map((n) => n.podCidrs.length), [1, 0, 0]);
  assert.deepEqual(t2.rejects.map((r) => r.reason), ["overlap", "overlap"]);
  // Order of the input does not matter.
  const t3 = trustNodes(input([spec, self, alloc]));
  assert.deepEqual(t3.rejects, t.rejects);
});

/** Two Nodes holding 10.244.1.0/24 in their own spec: victim "b" and thief "t". */
function equalClaims(since: { b?: number; t?: number }) {
  const rec = (when?: number) => ({
    source: "node-spec" as const,
    subnets: ["10.244.1.0/24"],
    ...(when !== undefined ? { since: when } : {}),
  });
  const victim: NodeInfo = { ...good, ownership: rec(since.b) };
  // "0thief" sorts first: name order would give it the subnet.
  const thief: NodeInfo = { ...good, name: "0thief", addresses: ["192.168.1.66"] };
  thief.ownership = rec(since.t);
  return [self, victim, thief];
}

function owners(t: ReturnType<typeof trustNodes>) {
  return t.nodes.filter((n) => n.podCidrs.includes("10.244.1.0/24")).map((n) => n.name);
}

Deno.test("trust: equal claims, the incumbent keeps the subnet against a newer thief", () => {
  const nodes = equalClaims({ b: 1_000, t: 2_000 });
  const t = trustNodes(input(nodes, { incumbents: new Map([["10.244.1.0/24", "b"]]) }));
  assert.deepEqual(owners(t), ["b"]);
  assert.deepEqual(t.rejects.map((r) => [r.node, r.field, r.value, r.reason]), [
    ["0thief", "podCidrs", "10.244.1.0/24", "overlap"],
  ]);
  assert.match(t.rejects[0]!.detail, /b keeps it \(incumbent\)/);
  // The thief keeps its other fields (its address is not refused, only the subnet).
  assert.deepEqual(t.nodes.find((n) => n.name === "0thief")?.addresses, ["192.168.1.66"]);
});

Deno.test("trust: equal claims, the incumbent keeps the subnet against an older thief", () => {
  const nodes = equalClaims({ b: 5_000, t: 1_000 });
  const t = trustNodes(input(nodes, { incumbents: new Map([["10.244.1.0/24", "b"]]) }));
  assert.deepEqual(owners(t), ["b"]);
  assert.deepEqual(t.rejects.map((r) => [r.node, r.reason]), [["0thief", "overlap"]]);
  // Same answer whatever the input order.
  const t2 = trustNodes(
    input([...nodes].reverse(), { incumbents: new Map([["10.244.1.0/24", "b"]]) }),
  );
  assert.deepEqual(owners(t2), ["b"]);
  assert.deepEqual(t2.rejects, t.rejects);
});

Deno.test("trust: equal claims with no incumbent, the older record keeps the subnet", () => {
  const t = trustNodes(input(equalClaims({ b: 1_000, t: 2_000 })));
  assert.deepEqual(owners(t), ["b"]);
  assert.deepEqual(t.rejects.map((r) => [r.node, r.reason]), [["0thief", "overlap"]]);
  assert.match(t.rejects[0]!.detail, /b keeps it \(older record\)/);
  const older = trustNodes(input(equalClaims({ b: 3_000, t: 2_000 })));
  assert.deepEqual(owners(older), ["0thief"]);
  assert.deepEqual(older.rejects.map((r) => [r.node, r.reason]), [["b", "overlap"]]);
  // An incumbent that is not one of the claimants (gone from the store) decides nothing.
  const gone = trustNodes(
    input(equalClaims({ b: 1_000, t: 2_000 }), { incumbents: new Map([["10.244.1.0/24", "q"]]) }),
  );
  assert.deepEqual(owners(gone), ["b"]);
});

Deno.test("trust: equal claims nothing tells apart, both lose", () => {
  for (const since of [{ b: 1_000, t: 1_000 }, {}, { b: 1_000 }]) {
    const t = trustNodes(input(equalClaims(since)));
    assert.deepEqual(owners(t), [], JSON.stringify(since));
    assert.deepEqual(t.rejects.map((r) => [r.node, r.reason]), [
      ["0thief", "overlap"],
      ["b", "overlap"],
    ]);
    assert.match(t.rejects[0]!.detail, /equal records/);
  }
  // A stronger record still beats the incumbent.
  const [a, b, thief] = equalClaims({ b: 1_000, t: 2_000 });
  const weak = { ...b!, ownership: { source: "allocation" as const, subnets: ["10.244.1.0/24"] } };
  const t = trustNodes(
    input([a!, weak, thief!], { incumbents: new Map([["10.244.1.0/24", "b"]]) }),
  );
  assert.deepEqual(owners(t), ["0thief"]);
});

Deno.test("trust: incumbents from the kernel's routes at start, then from what was accepted", () => {
  const nodes = equalClaims({});
  const routes = [
    { family: 4 as const, dst: "10.244.1.0/24", gateway: "192.168.1.11", protocol: 151 },
    // A route whose gateway no claimant has, and a route without a gateway: no incumbent.
    { family: 4 as const, dst: "10.244.2.0/24", gateway: "192.168.1.99", protocol: 151 },
    { family: 4 as const, dst: "10.244.3.0/24", protocol: 151 },
  ];
  const inc = incumbentsOf({ nodes, routes });
  assert.deepEqual([...inc], [["10.244.1.0/24", "b"]]);
  const t = trustNodes(input(nodes, { incumbents: inc }));
  assert.deepEqual(owners(t), ["b"]);
  // What the pass kept becomes the next pass's incumbents, over the kernel's say.
  const accepted = acceptedOwners(t);
  assert.deepEqual([...accepted].sort(), [["10.244.0.0/24", "a"], ["10.244.1.0/24", "b"]]);
  const moved = incumbentsOf({
    nodes,
    routes,
    accepted: new Map([["10.244.1.0/24", "0thief"]]),
  });
  assert.equal(moved.get("10.244.1.0/24"), "0thief");
  // A gateway both claimants announce names nobody.
  const shared = nodes.map((n) => n.name === "0thief" ? { ...n, addresses: ["192.168.1.11"] } : n);
  assert.deepEqual([...incumbentsOf({ nodes: shared, routes })], []);
  // A VXLAN route's gateway is the VTEP.
  const vx = nodes.map((n) =>
    n.name === "b" ? { ...n, vtep: { ip: "10.244.1.0", mac: "1a:2b:3c:4d:5e:6f" } } : n
  );
  const vxRoutes = [{ family: 4 as const, dst: "10.244.1.0/24", gateway: "10.244.1.0" }];
  assert.deepEqual([...incumbentsOf({ nodes: vx, routes: vxRoutes })], [["10.244.1.0/24", "b"]]);
});

Deno.test("trust: datastore rejects (oversize, garbage) pass through; every reason is listed", () => {
  const t = trustNodes({
    ...input([self]),
    entryRejects: [{
      node: "big",
      field: "entry",
      value: "x".repeat(200),
      reason: "oversize",
      detail: "70000 bytes",
    }],
  });
  assert.equal(t.rejects.length, 1);
  assert.equal(t.rejects[0]!.reason, "oversize");
  assert.ok(t.rejects[0]!.value.length < 80);
  assert.equal(new Set(REJECT_REASONS).size, REJECT_REASONS.length);
});

Deno.test("trust: endpoint hosts of URLs and bare addresses; names skipped", () => {
  assert.deepEqual(
    endpointIps([
      "http://127.0.0.1:2379",
      "https://[fd00::1]:6443",
      "10.0.0.5",
      "https://api.local",
    ]),
    ["127.0.0.1", "fd00::1", "10.0.0.5"],
  );
});
