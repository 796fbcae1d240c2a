/**
 * hostPort rules as data: the nft objects of `table inet hostgate` that carry
 * every pod's port mappings, and the `nft -f` payloads adding or removing
 * one pod's elements. Pure (golden-tested); ports.ts applies them.
 *
 * Shape: four maps (specific host address or any, per family) from
 * (host address, protocol, hostPort) to (pod address, containerPort), one
 * element per mapping commented with the network and the pod's host veth;
 * a DNAT chain jumped for local destinations from prerouting (other nodes,
 * pods) and output (the node itself); and two interval sets of
 * (source prefix, pod address, protocol, containerPort) whose DNATed
 * connections are masqueraded: the pod itself and its neighbours on the same
 * subnet (hairpin: their replies would not come back through the node) and
 * 127.0.0.0/8 (the node's loopback).
 * @module
 */
import type { PortMapping } from "../../cni/mod.ts";
import { familyOf, normalizeCidr } from "../../net/mod.ts";

/** The table (shared with the agent's nftables backend, which owns only its own chains). */
export const PORTS_TABLE = { family: "inet", name: "hostgate" } as const;
const T = `${PORTS_TABLE.family} ${PORTS_TABLE.name}`;

/** Names of the maps and sets. */
export const PORT_SETS = {
  ip4: "hostport-ip4",
  any4: "hostport-any4",
  ip6: "hostport-ip6",
  any6: "hostport-any6",
  masq4: "hostport-masq4",
  masq6: "hostport-masq6",
} as const;

/** Base chains and their headers, as `nft list` prints them back. */
export const PORT_CHAINS: readonly { name: string; header?: string; rules: string[] }[] = [
  {
    name: "hostport-prerouting",
    header: "type nat hook prerouting priority dstnat; policy accept;",
    rules: [
      `fib daddr type local jump hostport-dnat comment "hostgate: hostPorts on this node's addresses"`,
    ],
  },
  {
    name: "hostport-output",
    header: "type nat hook output priority -100; policy accept;",
    rules: [
      `fib daddr type local jump hostport-dnat comment "hostgate: hostPorts from the node itself"`,
    ],
  },
  {
    name: "hostport-dnat",
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
    rules: [
      `ct status dnat ip saddr . ip daddr . meta l4proto . th dport @${PORT_SETS.masq4} masquerade`,
      `ct status dnat ip6 saddr . ip6 daddr . meta l4proto . th dport @${PORT_SETS.masq6} masquerade`,
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
    name: PORT_SETS.masq4,
    body: [
      "type ipv4_addr . ipv4_addr . inet_proto . inet_service",
      "flags interval",
      `comment "hostgate: hostPort sources to masquerade (hairpin, neighbours, loopback)"`,
    ],
  },
  {
    kind: "set",
    name: PORT_SETS.masq6,
    body: [
      "type ipv6_addr . ipv6_addr . inet_proto . inet_service",
      "flags interval",
      `comment "hostgate: hostPort sources to masquerade (hairpin, neighbours)"`,
    ],
  },
];

/** One element of a map (with a value) or set. */
export interface PortElement {
  set: string;
  key: string;
  /** Maps only: "podIp . containerPort". */
  value?: string;
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
    const id = `${e.set} ${e.key}`;
    const have = out.get(id);
    if (have && have.value !== e.value) {
      throw new PortMappingError(index, `maps ${e.key} twice to different pod ports`);
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
      const target = `${podIp} . ${m.containerPort}`;
      const set = m.hostIP === undefined
        ? (f === 4 ? PORT_SETS.any4 : PORT_SETS.any6)
        : (f === 4 ? PORT_SETS.ip4 : PORT_SETS.ip6);
      const key = m.hostIP === undefined
        ? `${m.protocol} . ${m.hostPort}`
        : `${m.hostIP} . ${m.protocol} . ${m.hostPort}`;
      put({ set, key, value: target, comment }, index);
      const masq = f === 4 ? PORT_SETS.masq4 : PORT_SETS.masq6;
      const tail = `${podIp} . ${m.protocol} . ${m.containerPort}`;
      put({ set: masq, key: `${normalizeCidr(cidr)} . ${tail}`, comment }, index);
      const loopback = f === 4 && (m.hostIP === undefined || m.hostIP.startsWith("127."));
      if (loopback) put({ set: masq, key: `127.0.0.0/8 . ${tail}`, comment }, index);
    }
    if (!used) {
      throw new PortMappingError(index, `hostIP ${m.hostIP} has no pod address of its family`);
    }
  });
  return [...out.values()];
}

/** The declarations: table, maps, sets and base chains (idempotent: existing ones stay). */
export function renderDeclarations(): string[] {
  const out = [`table ${T} {`];
  for (const s of SET_DECLS) {
    out.push(`\t${s.kind} ${s.name} {`, ...s.body.map((l) => `\t\t${l}`), "\t}");
  }
  for (const c of PORT_CHAINS) {
    out.push(`\tchain ${c.name} {`, ...(c.header ? [`\t\t${c.header}`] : []), "\t}");
  }
  out.push("}");
  return out;
}

/** The rules of every port chain, replaced (flush + add) inside the same transaction. */
export function renderRules(): string[] {
  const out: string[] = [];
  for (const c of PORT_CHAINS) out.push(`flush chain ${T} ${c.name}`);
  for (const c of PORT_CHAINS) {
    for (const r of c.rules) out.push(`add rule ${T} ${c.name} ${r}`);
  }
  return out;
}

function elementText(e: PortElement, withValue: boolean): string {
  const value = withValue && e.value !== undefined ? ` : ${e.value}` : "";
  return `${e.key} comment "${e.comment}"${value}`;
}

/**
 * ADD's payload: declarations, the rules, and the pod's elements. DNAT map
 * elements are `create`d, so a hostPort another pod holds fails the whole
 * transaction with "File exists" and nothing changes.
 */
export function renderPortsAdd(elements: readonly PortElement[]): string {
  const out = [...renderDeclarations(), ...renderRules()];
  for (const e of elements) {
    const verb = e.value !== undefined ? "create" : "add";
    out.push(`${verb} element ${T} ${e.set} { ${elementText(e, true)} }`);
  }
  return out.join("\n") + "\n";
}

/**
 * DEL's and GC's payload: each element added (a no-op when present, "busy"
 * when another pod holds the key with another target, which fails the
 * transaction rather than remove someone else's mapping) then deleted, so a
 * repeated or partial removal succeeds as well.
 */
export function renderPortsRemove(elements: readonly PortElement[]): string {
  const out = renderDeclarations();
  for (const e of elements) {
    out.push(`add element ${T} ${e.set} { ${elementText(e, true)} }`);
    out.push(`delete element ${T} ${e.set} { ${e.key} }`);
  }
  return out.join("\n") + "\n";
}
