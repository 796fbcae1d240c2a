import assert from "node:assert/strict";
// The golden files live with the agent's payload goldens (the one testdata dir unit tests may read).
import { assertGolden as golden } from "../../agent/testing/golden.ts";
import {
  elementComment,
  parseElementComment,
  type PodPorts,
  portElements,
  PortMappingError,
  renderPortsAdd,
  renderPortsRemove,
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

Deno.test("ports render: ADD payload, dual stack, any and specific host addresses (golden)", async () => {
  await golden("ports_add_dual.nft", renderPortsAdd(portElements(DUAL)));
});

Deno.test("ports render: removal adds then deletes each element (golden)", async () => {
  await golden("ports_remove_dual.nft", renderPortsRemove(portElements(DUAL)));
});

Deno.test("ports render: elements per family; loopback masquerade only for IPv4 any or 127/8", () => {
  const els = portElements(DUAL);
  const keys = els.map((e) => `${e.set} ${e.key}${e.value ? ` : ${e.value}` : ""}`);
  assert.deepEqual(keys, [
    "hostport-any4 tcp . 8080 : 10.22.0.5 . 80",
    "hostport-masq4 10.22.0.0/24 . 10.22.0.5 . tcp . 80",
    "hostport-masq4 127.0.0.0/8 . 10.22.0.5 . tcp . 80",
    "hostport-any6 tcp . 8080 : fd00:22::5 . 80",
    "hostport-masq6 fd00:22::/64 . fd00:22::5 . tcp . 80",
    "hostport-ip4 192.0.2.1 . udp . 5353 : 10.22.0.5 . 53",
    "hostport-masq4 10.22.0.0/24 . 10.22.0.5 . udp . 53",
    "hostport-ip6 2001:db8::1 . sctp . 9000 : fd00:22::5 . 9000",
    "hostport-masq6 fd00:22::/64 . fd00:22::5 . sctp . 9000",
  ]);
  assert.ok(els.every((e) => e.comment === "hostgate hgnet hg0123456789ab"));
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

Deno.test("ports render: element comments round-trip; foreign comments are not ours", () => {
  assert.deepEqual(parseElementComment(elementComment("net-a", "hg0123456789ab")), {
    network: "net-a",
    hostVeth: "hg0123456789ab",
  });
  assert.equal(parseElementComment("kube-proxy"), undefined);
  assert.equal(parseElementComment(undefined), undefined);
});
