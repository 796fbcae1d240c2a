/**
 * The trust gate: the one place where datastore entries become facts the
 * agent routes on. Pure (no system calls): the pass hands it the node list as
 * the datastore has it, the ownership facts the datastore surfaced, this
 * node's addresses and the config; it returns the nodes with every field it
 * could not vouch for removed, and one reject per removed value.
 *
 * A peer's pod subnet is kept only when it lies inside a cluster CIDR with
 * the configured node prefix length, its ownership record (etcd claim key,
 * file claim, Node.spec.podCIDRs or the allocation ConfigMap) names that
 * node, no other node owns it with an equal or stronger record, and the
 * route would not cover this node's addresses or segments, the API server,
 * the datastore endpoints or a service range. A gateway (node address, VTEP)
 * must be unicast and outside pod and service ranges, not loopback,
 * link-local, multicast, unspecified or a broadcast address (including the
 * node segment's). Conflicts are settled by the ownership record: the
 * stronger record wins. Between equal records the incumbent keeps the subnet
 * (the owner the agent already routes it to: accepted in an earlier pass, or
 * at agent start the one its kernel route points at), else the older record
 * (`Ownership.since`); when even that cannot tell them apart both lose. Name
 * order never decides: a thief claiming a subnet in its own equally strong
 * record cannot take a working route down.
 * @module
 */
import type { EntryReject, NodeInfo, OwnershipSource } from "../../datastore/mod.ts";
import type { Route } from "../../system/netlink/types.ts";
import {
  cidrContainsIp,
  cidrsOverlap,
  type Family,
  familyOf,
  parseCidr,
  tryParseCidr,
  tryParseIp,
} from "../../net/mod.ts";
import type { LocalAddress } from "./desired_state.ts";
import { gatewayWhy, holds, type PolicyRanges, policyRanges } from "./trust_ranges.ts";

/** Why a value was not trusted. */
export type RejectReason =
  | "garbage"
  | "oversize"
  | "outside-cluster-cidr"
  | "prefix-length"
  | "not-owned"
  | "overlap"
  | "service-range"
  | "covers-protected"
  | "bad-gateway"
  | "bad-vtep"
  | "missing-vtep";

/** Every reason, for metrics that show zeros too. */
export const REJECT_REASONS: readonly RejectReason[] = [
  "garbage",
  "oversize",
  "outside-cluster-cidr",
  "prefix-length",
  "not-owned",
  "overlap",
  "service-range",
  "covers-protected",
  "bad-gateway",
  "bad-vtep",
  "missing-vtep",
];

/** One value the gate refused. */
export interface Reject {
  node: string;
  /** "podCidrs", "addresses", "vtep" or the datastore's raw field ("entry"). */
  field: string;
  /** The refused value, cut to a printable length. */
  value: string;
  reason: RejectReason;
  /** Human text: what it collided with, which range. */
  detail: string;
}

/** What the gate checks against. */
export interface TrustPolicy {
  selfName: string;
  /** One CIDR per family, canonical. */
  clusterCidrs: readonly string[];
  prefixLengths: Record<Family, number>;
  /** Service ranges: never routed to a peer, never a gateway. */
  serviceCidrs: readonly string[];
  /** Addresses a peer route must never cover: API server, datastore endpoints. */
  protectedIps: readonly string[];
  /** This node's addresses with their prefixes (all links; the bridge is skipped). */
  localAddrs: readonly LocalAddress[];
  /** The pod bridge: its subnet is this node's pod subnet, not a node segment. */
  bridge: string;
  /**
   * The overlay backend ("host-gw" when absent). With "vxlan", and with
   * "auto" for a peer on no local segment, a peer entry must publish its
   * VTEP (its MAC is random, so it cannot be derived): one without is
   * counted as "missing-vtep".
   */
  backend?: "host-gw" | "vxlan" | "auto";
}

/** Input of `trustNodes`. */
export interface TrustInput extends TrustPolicy {
  nodes: readonly NodeInfo[];
  /** Entries the datastore refused before parsing (oversize, garbage). */
  entryRejects?: readonly EntryReject[];
  /**
   * Subnet -> the node the agent routes it to now (see `incumbentsOf`):
   * decides between equal ownership records.
   */
  incumbents?: ReadonlyMap<string, string>;
}

/** Output of `trustNodes`. */
export interface Trusted {
  /** The nodes with only trusted fields, same order as given. */
  nodes: NodeInfo[];
  rejects: Reject[];
}

/** Strength of an ownership record: the controller-manager's spec and a CAS claim beat a map. */
const RANK: Record<OwnershipSource, number> = { "node-spec": 2, claim: 2, allocation: 1 };

/** Longest value text kept in a reject (logs, status). */
const VALUE_TEXT_MAX = 64;

function short(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return s.length > VALUE_TEXT_MAX ? `${s.slice(0, VALUE_TEXT_MAX)}...` : s;
}

/** Hosts of URLs or bare addresses ("https://10.0.0.1:6443" -> "10.0.0.1"); names are skipped. */
export function endpointIps(endpoints: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of endpoints) {
    let host = e;
    try {
      host = new URL(e.includes("://") ? e : `tcp://${e}`).hostname;
    } catch {
      // a bare address
    }
    host = host.replace(/^\[|\]$/g, "");
    if (tryParseIp(host)) out.push(host);
  }
  return out;
}

/** Why `ip` cannot be a next hop, or undefined when it can. */
export function badGatewayWhy(ip: string, p: TrustPolicy): string | undefined {
  return gatewayWhy(ip, policyRanges(p));
}

/** Why a pod subnet can never be a peer route (range checks only), or undefined. */
function subnetWhy(
  cidr: string,
  p: TrustPolicy,
  r: PolicyRanges,
): { reason: RejectReason; detail: string } | undefined {
  const c = tryParseCidr(cidr);
  if (!c || c.text !== cidr) return { reason: "garbage", detail: "not a canonical CIDR" };
  const cluster = r.cluster.find((k) => k.cidr.family === c.family);
  if (!cluster || !cidrsOverlap(cluster.cidr, c) || cluster.cidr.prefix > c.prefix) {
    return {
      reason: "outside-cluster-cidr",
      detail: `not inside ${cluster?.text ?? "any cluster CIDR"}`,
    };
  }
  if (c.prefix !== p.prefixLengths[c.family]) {
    return { reason: "prefix-length", detail: `prefix is not /${p.prefixLengths[c.family]}` };
  }
  for (const s of r.service) {
    if (cidrsOverlap(s.cidr, c)) return { reason: "service-range", detail: `overlaps ${s.text}` };
  }
  for (const own of r.local) {
    if (holds(c, own.ip)) {
      return {
        reason: "covers-protected",
        detail: `covers this node's address ${own.cidr.address}`,
      };
    }
    if (own.linkName !== "lo" && cidrsOverlap(own.cidr, c)) {
      return {
        reason: "covers-protected",
        detail: `overlaps this node's segment ${own.cidr.text}`,
      };
    }
  }
  for (const ip of r.protectedIps) {
    if (holds(c, ip.ip)) return { reason: "covers-protected", detail: `covers ${ip.text}` };
  }
  return undefined;
}

/**
 * Runs the gate over a node list. Deterministic: equal input gives equal
 * output whatever the order of `nodes`.
 */
export function trustNodes(input: TrustInput): Trusted {
  const rejects: Reject[] = (input.entryRejects ?? []).map((r) => ({
    node: r.node,
    field: r.field,
    value: short(r.value),
    reason: r.reason,
    detail: r.detail,
  }));
  const ranges = policyRanges(input);
  const reject = (node: string, field: string, value: unknown, reason: RejectReason, d: string) =>
    rejects.push({ node, field, value: short(value), reason, detail: d });

  // Pass 1: range and ownership checks, per subnet.
  const candidates = new Map<string, readonly string[]>();
  const owners = new Map<string, Owner[]>();
  for (const n of input.nodes) {
    const self = n.name === input.selfName;
    // One or two subnets a node: a list lookup, no Set per node and pass.
    const owned = n.ownership?.subnets ?? [];
    const rank = n.ownership ? RANK[n.ownership.source] : 0;
    const kept: string[] = [];
    for (const cidr of n.podCidrs) {
      const why = self ? selfSubnetWhy(cidr, input) : subnetWhy(cidr, input, ranges);
      if (why) {
        reject(n.name, "podCidrs", cidr, why.reason, why.detail);
        continue;
      }
      // This node's own subnets come from its own registration (its claim), not from others.
      if (!self && !owned.includes(cidr)) {
        const src = n.ownership?.source ?? "ownership";
        reject(n.name, "podCidrs", cidr, "not-owned", `no ${src} record gives it to this node`);
        continue;
      }
      kept.push(cidr);
      // A one-element literal for the usual single owner (a pushed-to empty list holds ~16
      // slots; 20,000 of them live through the pass).
      const owner: Owner = { node: n.name, rank, self, since: n.ownership?.since };
      const list = owners.get(cidr);
      if (list) list.push(owner);
      else owners.set(cidr, [owner]);
    }
    candidates.set(n.name, kept.length === n.podCidrs.length ? n.podCidrs : kept);
  }
  // Pass 2: conflicts between owners. Subnets are aligned blocks of one size per family,
  // so two overlap exactly when they are equal.
  const lost = new Set<string>();
  for (const [cidr, list] of owners) {
    if (list.length < 2) continue;
    const self = list.find((o) => o.self);
    const best = Math.max(...list.map((o) => o.rank));
    const top = list.filter((o) => o.rank === best);
    const won = self
      ? { owner: self, why: "this node's own" }
      : top.length === 1
      ? { owner: top[0]!, why: "a stronger record" }
      : settleEqual(top, input.incumbents?.get(cidr));
    for (const o of list) {
      if (o === won?.owner) continue;
      lost.add(`${o.node} ${cidr}`);
      const others = list.filter((x) => x !== o).map((x) => x.node).join(",");
      const keeps = won ? `; ${won.owner.node} keeps it (${won.why})` : "; equal records";
      reject(o.node, "podCidrs", cidr, "overlap", `also owned by ${others}${keeps}`);
    }
  }
  const nodes = input.nodes.map((n) => {
    const kept = (candidates.get(n.name) ?? []).filter((c) => !lost.has(`${n.name} ${c}`));
    // Kept lists are in order subsets: one of equal length is the datastore's own list,
    // shared (20,000 nodes, two lists each, every pass) instead of a filtered copy.
    const podCidrs = kept.length === n.podCidrs.length ? n.podCidrs : kept;
    const out: NodeInfo = { ...n, podCidrs };
    if (n.name === input.selfName) return out;
    const addresses = n.addresses.filter((a) => {
      const why = gatewayWhy(a, ranges);
      if (why) reject(n.name, "addresses", a, "bad-gateway", why);
      return !why;
    });
    out.addresses = addresses.length === n.addresses.length ? n.addresses : addresses;
    if (n.vtep) {
      const why = vtepWhy(n.vtep, podCidrs, ranges);
      if (why) {
        reject(n.name, "vtep", `${n.vtep.ip} ${n.vtep.mac}`, "bad-vtep", why);
        delete out.vtep;
      }
    }
    if (!out.vtep && needsVtep(out, input, ranges)) {
      reject(
        n.name,
        "vtep",
        "-",
        "missing-vtep",
        "no VTEP published; it cannot be reached by VXLAN",
      );
    }
    return out;
  });
  rejects.sort((a, b) =>
    a.node < b.node ? -1 : a.node > b.node ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0
  );
  return { nodes, rejects };
}

/** One ownership record of a subnet, as the conflict pass sees it. */
interface Owner {
  node: string;
  rank: number;
  self: boolean;
  since?: number;
}

/**
 * The winner among equally strong records, or undefined when nothing tells
 * them apart: the incumbent, else the strictly oldest record (every one
 * must carry its age).
 */
function settleEqual(
  top: readonly Owner[],
  incumbent: string | undefined,
): { owner: Owner; why: string } | undefined {
  const inc = top.find((o) => o.node === incumbent);
  if (inc) return { owner: inc, why: "incumbent" };
  if (top.some((o) => o.since === undefined)) return undefined;
  const oldest = Math.min(...top.map((o) => o.since!));
  const first = top.filter((o) => o.since === oldest);
  return first.length === 1 ? { owner: first[0]!, why: "older record" } : undefined;
}

/**
 * Who the agent routes each subnet to now, for `TrustInput.incumbents`:
 * the owners it accepted in earlier passes (`accepted`), and for subnets
 * those do not name (the first pass after a start) the node whose claim
 * names the subnet and whose address or VTEP is the gateway of this
 * agent's own kernel route for it. A gateway two claimants share names
 * nobody. Pure.
 */
export function incumbentsOf(i: {
  nodes: readonly NodeInfo[];
  /** hostgate's own routes (its protocol), as read from the kernel. */
  routes: readonly Route[];
  accepted?: ReadonlyMap<string, string>;
}): Map<string, string> {
  const out = new Map<string, string>();
  // Claimants by subnet, so a pass over 20,000 routes and nodes is linear, not 400M checks.
  const claims = new Map<string, NodeInfo[]>();
  if (i.routes.length > 0) {
    for (const n of i.nodes) {
      for (const c of n.podCidrs) {
        const list = claims.get(c);
        if (list) list.push(n);
        else claims.set(c, [n]);
      }
    }
  }
  for (const r of i.routes) {
    if (r.gateway === undefined) continue;
    const dst = tryParseCidr(r.dst)?.text;
    const gw = tryParseIp(r.gateway)?.text;
    if (!dst || !gw) continue;
    const via = (claims.get(dst) ?? []).filter((
      n,
    ) => (n.addresses.some((a) => tryParseIp(a)?.text === gw) ||
      (n.vtep !== undefined && tryParseIp(n.vtep.ip)?.text === gw))
    );
    if (via.length === 1) out.set(dst, via[0]!.name);
  }
  for (const [cidr, node] of i.accepted ?? []) out.set(cidr, node);
  return out;
}

/**
 * The owner of every subnet the gate kept (this node's too): the
 * incumbents of the next pass.
 */
export function acceptedOwners(trusted: Trusted): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of trusted.nodes) for (const c of n.podCidrs) out.set(c, n.name);
  return out;
}

/** True when the peer would be tunnelled: it has an IPv4 subnet and address and is not on-link. */
function needsVtep(n: NodeInfo, p: TrustPolicy, r: PolicyRanges): boolean {
  const backend = p.backend ?? "host-gw";
  if (backend === "host-gw" || !n.podCidrs.some((c) => familyOf(c) === 4)) return false;
  const ip = n.addresses.find((a) => familyOf(a) === 4);
  if (ip === undefined) return false;
  if (backend === "vxlan") return true;
  const a = tryParseIp(ip);
  return !r.segments.some((s) => holds(s, a));
}

/** This node's own subnet: only the range checks that keep its bridge and conflist sane. */
function selfSubnetWhy(cidr: string, p: TrustPolicy) {
  const c = tryParseCidr(cidr);
  if (!c || c.text !== cidr) return { reason: "garbage" as const, detail: "not a canonical CIDR" };
  const cluster = p.clusterCidrs.find((k) => familyOf(k) === c.family);
  if (!cluster || parseCidr(cluster).prefix > c.prefix || !cidrsOverlap(cluster, c)) {
    return { reason: "outside-cluster-cidr" as const, detail: `not inside ${cluster ?? "-"}` };
  }
  return undefined;
}

function vtepWhy(vtep: { ip: string; mac: string }, podCidrs: readonly string[], r: PolicyRanges) {
  const mac = /^([0-9a-f]{2})(:[0-9a-f]{2}){5}$/i.exec(vtep.mac);
  if (!mac) return "MAC is not a MAC address";
  if ((parseInt(mac[1]!, 16) & 1) === 1) return "MAC is multicast";
  if (/^(00:){5}00$/i.test(vtep.mac)) return "MAC is zero";
  if (!podCidrs.some((c) => familyOf(c) === 4 && cidrContainsIp(c, vtep.ip))) {
    return "address is not inside the node's trusted IPv4 pod subnet";
  }
  const why = gatewayWhy(vtep.ip, { ...r, cluster: [] });
  return why ? `address is ${why}` : undefined;
}
