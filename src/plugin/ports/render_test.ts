import assert from "node:assert/strict";
// The golden files live with the agent's payload goldens (the one testdata dir unit tests may read).
import { assertGolden as golden } from "../../agent/testing/golden.ts";
import { keyLen } from "../../system/nftables/mod.ts";
import { addOp, decodeElement, removeOps, SET_FIELDS } from "./elements.ts";
import {
  ELEMENT_SETS,
  elementComment,
  parseElementComment,
  type PodPorts,
  portElements,
  PortMappingError,
  renderDefinition,
  renderSourcePrefixes,
  sourcePrefixes,
  subnetComment,
  valuesText,
} from "./render.ts";

const DUAL: PodPorts = {
  network: "hgnet",
  hostVeth: "hg0123456789ab",
  podIps: ["10.22.0.5/24", "fd00:22::5/64"],
  mappings: [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "192.0.2.1" },
    { hostPort: 9000, containerPort: 9000, protocol: "sctp", hostIP: "2001:db8::1" },
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
  ],
};

Deno.test("ports render: the definition, with a pod's subnets (golden)", async () => {
  const prefixes = renderSourcePrefixes("hgnet", sourcePrefixes(DUAL.podIps));
  await golden("ports_definition.nft", renderDefinition() + prefixes.join("\n") + "\n");
});

Deno.test("ports render: the definition declares every set it fills and never flushes one", () => {
  const d = renderDefinition();
  for (const s of ELEMENT_SETS) assert.match(d, new RegExp(`\\t(map|set) ${s} \\{`));
  assert.doesNotMatch(d, /flush (set|map|table)|delete table/);
  assert.doesNotMatch(d, /element [^\n]*hostport-(ip|any|snat)[46] /, "no per-pod element");
});

Deno.test("ports render: elements per family: one map and one masquerade element per mapping", () => {
  const els = portElements(DUAL);
  const keys = els.map((e) =>
    `${e.set} ${valuesText(e.key)}${e.data ? ` : ${valuesText(e.data)}` : ""}`
  );
  assert.deepEqual(keys, [
    "hostport-any4 tcp . 8080 : 10.22.0.5 . 80",
    "hostport-snat4 10.22.0.5 . tcp . 80",
    "hostport-any6 tcp . 8080 : fd00:22::5 . 80",
    "hostport-snat6 fd00:22::5 . tcp . 80",
    "hostport-ip4 192.0.2.1 . udp . 5353 : 10.22.0.5 . 53",
    "hostport-snat4 10.22.0.5 . udp . 53",
    "hostport-ip6 2001:db8::1 . sctp . 9000 : fd00:22::5 . 9000",
    "hostport-snat6 fd00:22::5 . sctp . 9000",
  ]);
  assert.ok(els.every((e) => e.comment === "hostgate hgnet hg0123456789ab"));
});

Deno.test("ports render: elements encode to the sets' byte layout and decode back", () => {
  for (const e of portElements(DUAL)) {
    const op = addOp(e, { exclusive: true });
    const f = SET_FIELDS[e.set];
    assert.equal(op.exclusive, f.data ? true : undefined, "only map elements are exclusive");
    assert.equal(op.key.length, keyLen(f.key));
    const back = decodeElement(e.set, {
      key: op.key,
      ...(op.data ? { data: op.data } : {}),
      comment: e.comment,
    });
    assert.deepEqual(back, e);
    const [add, del] = removeOps(e);
    assert.deepEqual([add!.op, add!.exclusive, del!.op], ["add", undefined, "delete"]);
  }
  // any4's key is proto . port in two 4-byte registers; its data addr . port.
  const any4 = addOp(portElements(DUAL)[0]!, { exclusive: true });
  assert.deepEqual([...any4.key], [6, 0, 0, 0, 0x1f, 0x90, 0, 0]);
  assert.deepEqual([...any4.data!], [10, 22, 0, 5, 0, 80, 0, 0]);
  assert.equal(decodeElement("hostport-any4", { key: new Uint8Array(3) }), undefined);
});

Deno.test("ports render: a pod's source prefixes are its subnets, once each", () => {
  assert.deepEqual(sourcePrefixes(["10.22.0.5/24", "10.22.0.9/24", "fd00:22::5/64"]), [
    { family: 4, cidr: "10.22.0.0/24", first: "10.22.0.0", last: "10.22.0.255" },
    { family: 6, cidr: "fd00:22::/64", first: "fd00:22::", last: "fd00:22::ffff:ffff:ffff:ffff" },
  ]);
});

Deno.test("ports render: conflicting or unusable mappings name the mapping", () => {
  const base = { network: "n", hostVeth: "hg0123456789ab", podIps: ["10.22.0.5/24"] };
  const twice = () =>
    portElements({
      ...base,
      mappings: [
        { hostPort: 80, containerPort: 80, protocol: "tcp" },
        { hostPort: 80, containerPort: 81, protocol: "tcp" },
      ],
    });
  assert.throws(twice, (e) => e instanceof PortMappingError && e.index === 1);
  const v6Only = () =>
    portElements({
      ...base,
      mappings: [{ hostPort: 80, containerPort: 80, protocol: "tcp", hostIP: "fd00::1" }],
    });
  assert.throws(v6Only, /no pod address of its family/);
});

Deno.test("ports render: element comments round-trip; subnet and foreign comments are not a pod's", () => {
  assert.deepEqual(parseElementComment(elementComment("net-a", "hg0123456789ab")), {
    network: "net-a",
    hostVeth: "hg0123456789ab",
  });
  assert.equal(parseElementComment(subnetComment("net-a")), undefined);
  assert.equal(parseElementComment("kube-proxy"), undefined);
  assert.equal(parseElementComment(undefined), undefined);
});
