/**
 * Unit tests of the Kubernetes datastore's pure parts (kubernetes_nodes.ts):
 * Node → NodeInfo mapping, the allocation ConfigMap format and merge, and the
 * registration patch. The informer and the ConfigMap races are tested against
 * the list/watch server in tests/kubernetes_datastore_test.ts.
 * @module
 */

import { deepEqual, equal } from "node:assert/strict";
import {
  formatAllocation,
  mergeNodes,
  NODE_IPS_ANNOTATION,
  type NodeLike,
  nodeToInfo,
  parseAllocations,
  projectNode,
  registrationPatch,
  sameNodeProjection,
  specPodCidrs,
  VTEP_IP_ANNOTATION,
  VTEP_MAC_ANNOTATION,
} from "./nodes.ts";

const addr = (type: string, address: string) => ({ type, address });

Deno.test("nodeToInfo: podCIDRs over podCIDR, InternalIP v4 and v6 only, in order", () => {
  const node: NodeLike = {
    metadata: { name: "n1" },
    spec: { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24", "fd00:10:244:1::/64"] },
    status: {
      addresses: [
        addr("Hostname", "n1"),
        addr("InternalIP", "192.0.2.1"),
        addr("ExternalIP", "203.0.113.1"),
        addr("InternalIP", "2001:db8::1"),
      ],
    },
  };
  deepEqual(nodeToInfo(node), {
    name: "n1",
    podCidrs: ["10.244.1.0/24", "fd00:10:244:1::/64"],
    addresses: ["192.0.2.1", "2001:db8::1"],
    subnetSource: "spec",
    ownership: { source: "node-spec", subnets: ["10.244.1.0/24", "fd00:10:244:1::/64"] },
  });
});

Deno.test("nodeToInfo: singular podCIDR, allocation only without spec, annotation fallback", () => {
  deepEqual(specPodCidrs({ spec: { podCIDR: "10.0.0.0/24", podCIDRs: [] } }), ["10.0.0.0/24"]);
  deepEqual(specPodCidrs({ spec: {} }), []);
  const withSpec: NodeLike = { metadata: { name: "a" }, spec: { podCIDR: "10.0.1.0/24" } };
  deepEqual(nodeToInfo(withSpec, ["10.9.9.0/24"]).podCidrs, ["10.0.1.0/24"], "spec wins");
  const bare: NodeLike = {
    metadata: { name: "b", annotations: { [NODE_IPS_ANNOTATION]: "192.0.2.7, 2001:db8::7" } },
  };
  deepEqual(nodeToInfo(bare, ["10.9.9.0/24"]), {
    name: "b",
    podCidrs: ["10.9.9.0/24"],
    addresses: ["192.0.2.7", "2001:db8::7"],
    subnetSource: "allocation",
    ownership: { source: "allocation", subnets: ["10.9.9.0/24"] },
  });
  const internalWins: NodeLike = {
    ...bare,
    status: { addresses: [addr("InternalIP", "192.0.2.8")] },
  };
  deepEqual(nodeToInfo(internalWins).addresses, ["192.0.2.8"]);
  deepEqual(nodeToInfo(bare).podCidrs, []);
});

Deno.test("nodeToInfo: the spec record's age is the Node's creationTimestamp", () => {
  const at = "2026-12-03T10:00:00Z";
  const node: NodeLike = {
    metadata: { name: "a", creationTimestamp: at },
    spec: { podCIDRs: ["10.0.1.0/24"] },
  };
  deepEqual(nodeToInfo(node).ownership, {
    source: "node-spec",
    subnets: ["10.0.1.0/24"],
    since: Date.parse(at),
  });
  // client-node's typed objects carry a Date; garbage is no age.
  const typed = { ...node, metadata: { name: "a", creationTimestamp: new Date(at) } };
  equal(nodeToInfo(typed).ownership?.since, Date.parse(at));
  const junk = { ...node, metadata: { name: "a", creationTimestamp: "yesterday" } };
  equal(nodeToInfo(junk).ownership?.since, undefined);
  // A ConfigMap allocation has no age of its own.
  const bare: NodeLike = { metadata: { name: "a", creationTimestamp: at } };
  equal(nodeToInfo(bare, ["10.9.9.0/24"]).ownership?.since, undefined);
  // A Node created again under the same name is a change.
  const again = { ...node, metadata: { name: "a", creationTimestamp: "2026-12-03T11:00:00Z" } };
  equal(sameNodeProjection(projectNode(node), projectNode(again)), false);
  equal(sameNodeProjection(projectNode(node), projectNode({ ...node })), true);
});

Deno.test("nodeToInfo: VTEP only when both annotations are present", () => {
  const ann = { [VTEP_MAC_ANNOTATION]: "0e:00:00:00:00:01", [VTEP_IP_ANNOTATION]: "10.0.1.0" };
  deepEqual(nodeToInfo({ metadata: { name: "a", annotations: ann } }).vtep, {
    mac: "0e:00:00:00:00:01",
    ip: "10.0.1.0",
  });
  const half = { [VTEP_MAC_ANNOTATION]: "0e:00:00:00:00:01" };
  equal(nodeToInfo({ metadata: { name: "a", annotations: half } }).vtep, undefined);
});

Deno.test("allocations: parse, format, merge into nodes without podCIDR, sorted", () => {
  const allocs = parseAllocations({
    c: formatAllocation(["10.50.2.0/24", "fd00:50:0:2::/64"]),
    a: "10.50.1.0/24",
    empty: " , ",
  });
  deepEqual([...allocs], [
    ["c", ["10.50.2.0/24", "fd00:50:0:2::/64"]],
    ["a", ["10.50.1.0/24"]],
  ]);
  deepEqual(parseAllocations(undefined).size, 0);
  const nodes: NodeLike[] = [
    { metadata: { name: "c" } },
    { metadata: { name: "b" }, spec: { podCIDR: "10.50.0.0/24" } },
    { metadata: { name: "a" }, spec: { podCIDR: "10.60.0.0/24" } }, // spec beats its entry
    { metadata: {} }, // nameless: skipped
  ];
  deepEqual(mergeNodes(nodes, allocs).map((n) => [n.name, n.podCidrs]), [
    ["a", ["10.60.0.0/24"]],
    ["b", ["10.50.0.0/24"]],
    ["c", ["10.50.2.0/24", "fd00:50:0:2::/64"]],
  ]);
});

Deno.test("registrationPatch: sets, removes, and is undefined when nothing changes", () => {
  const self = {
    name: "a",
    addresses: ["192.0.2.1"],
    vtep: { mac: "0e:00:00:00:00:01", ip: "10.0.1.0" },
  };
  const first = registrationPatch({ metadata: { name: "a" } }, self);
  deepEqual(first, {
    metadata: {
      annotations: {
        [VTEP_MAC_ANNOTATION]: "0e:00:00:00:00:01",
        [VTEP_IP_ANNOTATION]: "10.0.1.0",
        [NODE_IPS_ANNOTATION]: "192.0.2.1",
      },
    },
  });
  const written = {
    metadata: { name: "a", annotations: first!.metadata.annotations as Record<string, string> },
  };
  equal(registrationPatch(written, self), undefined);
  deepEqual(registrationPatch(written, { name: "a", addresses: [] }), {
    metadata: {
      annotations: {
        [VTEP_MAC_ANNOTATION]: null,
        [VTEP_IP_ANNOTATION]: null,
        [NODE_IPS_ANNOTATION]: null,
      },
    },
  });
  equal(registrationPatch({ metadata: { name: "a" } }, { name: "a", addresses: [] }), undefined);
});
