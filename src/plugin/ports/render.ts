/**
 * hostPort rules as data: the objects of `table inet hostgate` that carry
 * every pod's port mappings, the one `nft -f` definition payload, and each
 * pod's elements. Pure (golden-tested); elements.ts encodes the elements for
 * the in-process API and ports.ts applies them.
 *
 * Shape (every object is hostgate's, named `hostport-*` and commented; the
 * table is shared with the agent's nftables backend, which owns only its own
 * chains):
 * - four maps (specific host address or any, per family) from (host
 *   address, protocol, hostPort) to (pod address, containerPort), one
 *   element per mapping commented `hostgate <network> <hostVeth>`;
 * - a DNAT chain jumped for local destinations from prerouting (other nodes,
 *   pods) and output (the node itself);
 * - masquerade of DNATed connections to a mapping whose source needs it:
 *   `hostport-snat4/6` are exact (hash) sets of (pod address, protocol,
 *   containerPort), one element per mapping like the maps, and the static
 *   rule condition is the source prefix set `hostport-snatsrc4/6`: the
 *   node's loopback 127.0.0.0/8 (route_localnet) and the pod subnets of this
 *   node (hairpin: the pod itself and its neighbours, whose replies would not
 *   come back through the node). The source prefix sets are interval sets,
 *   but their elements are written per subnet, not per pod: once, when the
 *   first pod of a subnet maps a port and a `get` finds the subnet absent,
 *   and never deleted by DEL or GC (a subnet prefix is not a pod's state;
 *   an unused one only masquerades connections no mapping DNATs to).
 * The definition is idempotent and never flushes a map or set: it runs only
 * when a pod's batch finds the table or a set missing.
 * @module
 */
import type { PortMapping, PortProtocol } from "../../cni/mod.ts";
import { familyOf, parseCidr } from "../../net/mod.ts";

/** The table (shared with the agent's nftables backend, which owns only its own chains). */
export const PORTS_TABLE = { family: "inet", name: "hostgate" } as const;
const T = `${PORTS_TABLE.family} ${PORTS_TABLE.name}`;

/** Names of the maps and sets. */
export const PORT_SETS = {
  ip4: "hostport-ip4",
  any4: "hostport-any4",
  ip6: "hostport-ip6",
  any6: "hostport-any6",
  snat4: "hostport-snat4",
  snat6: "hostport-snat6",
  snatsrc4: "hostport-snatsrc4",
  snatsrc6: "hostport-snatsrc6",
} as const;

/** A set or map holding per-mapping elements (the source prefix sets are not among them). */
export type PortSetName =
  | typeof PORT_SETS.ip4
  | typeof PORT_SETS.any4
  | typeof PORT_SETS.ip6
  | typeof PORT_SETS.any6
  | typeof PORT_SETS.snat4
  | typeof PORT_SETS.snat6;

/** The per-mapping sets and maps, in listing order. */
export const ELEMENT_SETS: readonly PortSetName[] = [
  PORT_SETS.ip4,
  PORT_SETS.any4,
  PORT_SETS.ip6,
  PORT_SETS.any6,
  PORT_SETS.snat4,
  PORT_SETS.snat6,
];

/**
 * Sets of older hostgate versions (interval sets of source prefix, pod
 * address, protocol and port, one element per pod): the definition removes
 * them in the transaction that points the masquerade rules at the new sets.
 */
const LEGACY_SETS: readonly { name: string; type: string }[] = [
  { name: "hostport-masq4", type: "ipv4_addr . ipv4_addr . inet_proto . inet_service" },
  { name: "hostport-masq6", type: "ipv6_addr . ipv6_addr . inet_proto . inet_service" },
];

/** Base chains and their headers, as `nft list` prints them back. */
export const PORT_CHAINS: readonly {
  name: string;
  header?: string;
  comment: string;
  rules: string[];
}[] = [
  {
    name: "hostport-prerouting",
    header: "type nat hook prerouting priority dstnat; policy accept;",
    comment: "hostgate: hostPorts reached from other nodes and pods",
    rules: [
      `fib daddr type local jump hostport-dnat comment "hostgate: hostPorts on this node's addresses"`,
    ],
  },
  {
    name: "hostport-output",
    header: "type nat hook output priority -100; policy accept;",
    comment: "hostgate: hostPorts reached from the node itself",
    rules: [
      `fib daddr type local jump hostport-dnat comment "hostgate: hostPorts from the node itself"`,
    ],
  },
  {
    name: "hostport-dnat",
    comment: "hostgate: hostPort DNAT by the maps",
    rules: [
      `dnat ip to ip daddr . meta l4proto . th dport map @${PORT_SETS.ip4}`,
      `meta nfproto ipv4 dnat ip to meta l4proto . th dport map @${PORT_SETS.any4}`,
      `dnat ip6 to ip6 daddr . meta l4proto . th dport map @${PORT_SETS.ip6}`,
      `meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @${PORT_SETS.any6}`,
    ],
  },
  {
    name: "hostport-postrouting",
    header: "type nat hook postrouting priority srcnat; policy accept;",
    comment: "hostgate: hostPort masquerade (loopback, hairpin, neighbours)",
    rules: [
      `ct status dnat ip saddr @${PORT_SETS.snatsrc4} ` +
      `ip daddr . meta l4proto . th dport @${PORT_SETS.snat4} masquerade ` +
      `comment "hostgate: hostPort connections from loopback or a local pod subnet"`,
      `ct status dnat ip6 saddr @${PORT_SETS.snatsrc6} ` +
      `ip6 daddr . meta l4proto . th dport @${PORT_SETS.snat6} masquerade ` +
      `comment "hostgate: hostPort connections from a local pod subnet"`,
    ],
  },
];

const SET_DECLS: readonly { kind: "map" | "set"; name: string; body: string[] }[] = [
  {
    kind: "map",
    name: PORT_SETS.ip4,
    body: [
      "type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
      `comment "hostgate: hostPorts of one IPv4 host address, one element per pod mapping"`,
    ],
  },
  {
    kind: "map",
    name: PORT_SETS.any4,
    body: [
      "type inet_proto . inet_service : ipv4_addr . inet_service",
      `comment "hostgate: hostPorts of every IPv4 host address, one element per pod mapping"`,
    ],
  },
  {
    kind: "map",
    name: PORT_SETS.ip6,
    body: [
      "type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service",
      `comment "hostgate: hostPorts of one IPv6 host address, one element per pod mapping"`,
    ],
  },
  {
    kind: "map",
    name: PORT_SETS.any6,
    body: [
      "type inet_proto . inet_service : ipv6_addr . inet_service",
      `comment "hostgate: hostPorts of every IPv6 host address, one element per pod mapping"`,
    ],
  },
  {
    kind: "set",
    name: PORT_SETS.snat4,
    body: [
      "type ipv4_addr . inet_proto . inet_service",
      `comment "hostgate: IPv4 hostPort targets (pod address, containerPort), one per pod mapping"`,
    ],
  },
  {
    kind: "set",
    name: PORT_SETS.snat6,
    body: [
      "type ipv6_addr . inet_proto . inet_service",
      `comment "hostgate: IPv6 hostPort targets (pod address, containerPort), one per pod mapping"`,
    ],
  },
  {
    kind: "set",
    name: PORT_SETS.snatsrc4,
    body: [
      "type ipv4_addr",
      "flags interval",
      "auto-merge",
      `comment "hostgate: hostPort sources to masquerade: loopback, local pod subnets (per subnet)"`,
    ],
  },
  {
    kind: "set",
    name: PORT_SETS.snatsrc6,
    body: [
      "type ipv6_addr",
      "flags interval",
      "auto-merge",
      `comment "hostgate: hostPort sources to masquerade: local pod subnets (per subnet)"`,
    ],
  },
];

/** The loopback source prefix, written with the definition. */
export const LOOPBACK_PREFIX = "127.0.0.0/8";

/** One element of a per-mapping map (with data) or set. */
export interface PortElement {
  set: PortSetName;
  /** Key values in the set's field order (addresses as text; protocol as its name). */
  key: (string | number)[];
  /** Maps only: pod address and containerPort. */
  data?: [string, number];
  comment: string;
}

/** One pod's mappings and addresses. */
export interface PodPorts {
  network: string;
  /** The pod's host veth name: its identity in comments. */
  hostVeth: string;
  /** Pod addresses with prefix ("10.77.0.5/24"). */
  podIps: readonly string[];
  mappings: readonly PortMapping[];
}

/** The comment tagging an element of `hostVeth` in `network`. */
export function elementComment(network: string, hostVeth: string): string {
  return `hostgate ${network} ${hostVeth}`;
}

/** The comment of a pod subnet in a source prefix set (never matches parseElementComment). */
export function subnetComment(network: string): string {
  return `hostgate-subnet ${network}`;
}

/** The owner named by an element comment, or undefined when hostgate did not write it. */
export function parseElementComment(
  comment: string | undefined,
): { network: string; hostVeth: string } | undefined {
  const m = /^hostgate (\S+) (\S+)$/.exec(comment ?? "");
  return m ? { network: m[1]!, hostVeth: m[2]! } : undefined;
}

/** A mapping that cannot be rendered for this pod; names the mapping. */
export class PortMappingError extends Error {
  readonly index: number;
  constructor(index: number, message: string) {
    super(message);
    this.name = "PortMappingError";
    this.index = index;
  }
}

/** "10.0.0.1 . tcp . 80": a key or data as nft prints it. */
export function valuesText(values: readonly (string | number)[]): string {
  return values.join(" . ");
}

/**
 * The elements of one pod. A mapping without hostIP applies to every pod
 * address family; one with a hostIP only to the pod address of its family
 * (none is a PortMappingError). Identical mappings collapse; the same key
 * with two targets is a PortMappingError.
 */
export function portElements(p: PodPorts): PortElement[] {
  const comment = elementComment(p.network, p.hostVeth);
  const out = new Map<string, PortElement>();
  const put = (e: PortElement, index: number) => {
    const id = `${e.set} ${valuesText(e.key)}`;
    const have = out.get(id);
    if (have && have.data?.join() !== e.data?.join()) {
      throw new PortMappingError(index, `maps ${valuesText(e.key)} twice to different pod ports`);
    }
    out.set(id, e);
  };
  p.mappings.forEach((m, index) => {
    const hostFamily = m.hostIP === undefined ? undefined : familyOf(m.hostIP);
    let used = false;
    for (const cidr of p.podIps) {
      const f = familyOf(cidr);
      if (hostFamily !== undefined && hostFamily !== f) continue;
      used = true;
      const podIp = cidr.slice(0, cidr.indexOf("/"));
      const set = m.hostIP === undefined
        ? (f === 4 ? PORT_SETS.any4 : PORT_SETS.any6)
        : (f === 4 ? PORT_SETS.ip4 : PORT_SETS.ip6);
      const key: (string | number)[] = m.hostIP === undefined
        ? [m.protocol, m.hostPort]
        : [m.hostIP, m.protocol, m.hostPort];
      put({ set, key, data: [podIp, m.containerPort], comment }, index);
      const snat = f === 4 ? PORT_SETS.snat4 : PORT_SETS.snat6;
      put({ set: snat, key: [podIp, m.protocol, m.containerPort], comment }, index);
    }
    if (!used) {
      throw new PortMappingError(index, `hostIP ${m.hostIP} has no pod address of its family`);
    }
  });
  return [...out.values()];
}

/** A source prefix to masquerade: a pod subnet, with its first and last address. */
export interface SourcePrefix {
  family: 4 | 6;
  /** Canonical block ("10.22.0.0/24"). */
  cidr: string;
  first: string;
  last: string;
}

/** The source prefix sets of a family. */
export function prefixSetOf(family: 4 | 6): typeof PORT_SETS.snatsrc4 | typeof PORT_SETS.snatsrc6 {
  return family === 4 ? PORT_SETS.snatsrc4 : PORT_SETS.snatsrc6;
}

/** The subnets of the pod's addresses (deduplicated): where hairpin sources come from. */
export function sourcePrefixes(podIps: readonly string[]): SourcePrefix[] {
  const out = new Map<string, SourcePrefix>();
  for (const ip of podIps) {
    const c = parseCidr(ip);
    out.set(c.text, { family: c.family, cidr: c.text, first: c.network, last: c.last });
  }
  return [...out.values()];
}

/** The statements adding source prefixes (an interval element each; present ones merge). */
export function renderSourcePrefixes(network: string, prefixes: readonly SourcePrefix[]): string[] {
  return prefixes.map((p) =>
    `add element ${T} ${prefixSetOf(p.family)} { ${p.cidr} comment "${subnetComment(network)}" }`
  );
}

/**
 * The definition: table, maps, sets and chains (existing ones stay, with
 * their elements), the chains' rules replaced (flush + add) in the same
 * transaction, the loopback source prefix, and the legacy sets removed
 * (declared first so the delete works whether or not they exist).
 */
export function renderDefinition(): string {
  const out = [`table ${T} {`];
  for (const s of SET_DECLS) {
    out.push(`\t${s.kind} ${s.name} {`, ...s.body.map((l) => `\t\t${l}`), "\t}");
  }
  for (const l of LEGACY_SETS) {
    out.push(`\tset ${l.name} {`, `\t\ttype ${l.type}`, "\t\tflags interval", "\t}");
  }
  for (const c of PORT_CHAINS) {
    out.push(
      `\tchain ${c.name} {`,
      ...(c.header ? [`\t\t${c.header}`] : []),
      `\t\tcomment "${c.comment}"`,
      "\t}",
    );
  }
  out.push("}");
  for (const c of PORT_CHAINS) out.push(`flush chain ${T} ${c.name}`);
  for (const c of PORT_CHAINS) {
    for (const r of c.rules) out.push(`add rule ${T} ${c.name} ${r}`);
  }
  for (const l of LEGACY_SETS) out.push(`delete set ${T} ${l.name}`);
  out.push(
    `add element ${T} ${PORT_SETS.snatsrc4} { ${LOOPBACK_PREFIX} comment "hostgate: the node's loopback" }`,
  );
  return out.join("\n") + "\n";
}

/** Protocol numbers of the mapping protocols (inet_proto). */
export const PROTO_NUMBERS: Readonly<Record<PortProtocol, number>> = { tcp: 6, udp: 17, sctp: 132 };
