/**
 * What this node should look like, as a pure function of the node list, the
 * node's own addresses and the config. No system calls: the reconcile loop
 * reads the kernel and diffs against this. Each peer gets a `mode`; today
 * "host-gw" (a direct route via the peer's node IP) or "skip" with a reason,
 * and the VXLAN issue adds "vxlan" here without touching the diff code.
 * @module
 */
import type { NodeInfo } from "../datastore/types.ts";
import type { Family } from "../system/netlink/types.ts";
import {
  canonCidr,
  canonIp,
  cidrContains,
  cidrsOverlap,
  familyOf,
  gatewayCidr,
  isCidr,
  isIp,
  prefixLength,
} from "./cidr.ts";

/** An address of this node with the link it sits on. */
export interface LocalAddress {
  linkIndex: number;
  linkName: string;
  /** "192.168.1.10/24". */
  cidr: string;
}

/** One route the agent wants in the main table, tagged with its protocol. */
export interface DesiredRoute {
  /** Peer node name (for logs and status). */
  peer: string;
  family: Family;
  /** Peer pod subnet, canonical. */
  dst: string;
  /** Peer node IP, canonical. */
  gateway: string;
  /** Uplink carrying the connected subnet the gateway lies in. */
  linkIndex: number;
}

/** Why a peer (or one family of it) gets no route. */
export type SkipReason =
  | "not-on-link"
  | "no-address-in-family"
  | "no-pod-subnet"
  | "overlaps-own-subnet"
  | "duplicate-subnet"
  | "invalid-entry"
  | "is-local-address";

/** Every skip reason, for metrics that show zeros too. */
export const SKIP_REASONS: readonly SkipReason[] = [
  "not-on-link",
  "no-address-in-family",
  "no-pod-subnet",
  "overlaps-own-subnet",
  "duplicate-subnet",
  "invalid-entry",
  "is-local-address",
];

/** How a peer is reached. "vxlan" will join "host-gw" with the VXLAN issue. */
export type PeerMode = "host-gw" | "skip";

/** The plan for one peer and one family. */
export interface PeerPlan {
  name: string;
  family: Family;
  mode: PeerMode;
  /** Set when mode is "skip". */
  reason?: SkipReason;
  /** Peer pod subnet of this family, when it has one. */
  podCidr?: string;
  /** Peer node IP of this family, when it has one. */
  nodeIp?: string;
  route?: DesiredRoute;
}

/** Inputs of `computeDesired`. */
export interface DesiredInput {
  selfName: string;
  nodes: readonly NodeInfo[];
  /** Addresses of this node (all links); the bridge is ignored. */
  localAddrs: readonly LocalAddress[];
  /** The pod bridge's name: its subnet never makes a peer "on-link". */
  bridge: string;
}

/** The desired state of this node. */
export interface DesiredState {
  /** This node as the datastore has it, when present. */
  self?: NodeInfo;
  /** This node's pod subnets, canonical, v4 first. */
  selfPodCidrs: string[];
  /** Gateway addresses for the bridge ("10.244.1.1/24"), one per own pod subnet. */
  bridgeGateways: string[];
  /** One entry per peer and family, sorted by name then family. */
  peers: PeerPlan[];
  /** The host-gw routes, sorted by dst. */
  routes: DesiredRoute[];
}

function byFamily<T extends string>(items: readonly T[], family: Family): T | undefined {
  return items.find((x) => familyOf(x) === family);
}

/** The local address whose connected subnet holds `ip` (longest prefix), if any. */
export function onLinkAddress(
  ip: string,
  localAddrs: readonly LocalAddress[],
  bridge: string,
): LocalAddress | undefined {
  let best: LocalAddress | undefined;
  for (const a of localAddrs) {
    if (a.linkName === bridge || a.linkName === "lo") continue;
    const p = prefixLength(a.cidr);
    if (p === (familyOf(a.cidr) === 4 ? 32 : 128)) continue;
    if (!cidrContains(a.cidr, ip)) continue;
    if (!best || p > prefixLength(best.cidr)) best = a;
  }
  return best;
}

function validNode(n: NodeInfo): boolean {
  return n.podCidrs.every(isCidr) && n.addresses.every(isIp);
}

/**
 * Computes routes, bridge gateways and per-peer modes. Deterministic: equal
 * input gives equal output whatever the order of `nodes`.
 */
export function computeDesired(input: DesiredInput): DesiredState {
  const nodes = [...input.nodes].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const self = nodes.find((n) => n.name === input.selfName);
  const selfPodCidrs = self && validNode(self)
    ? [4, 6].map((f) => byFamily(self.podCidrs, f as Family)).filter((c): c is string =>
      c !== undefined
    ).map(canonCidr)
    : [];
  const localIps = new Set(input.localAddrs.map((a) => canonIp(a.cidr)));
  const peers: PeerPlan[] = [];
  const claimed: string[] = [];
  for (const n of nodes) {
    if (n.name === input.selfName) continue;
    for (const family of [4, 6] as const) {
      const plan = planPeer({ node: n, family, selfPodCidrs, claimed, localIps, input });
      if (plan) peers.push(plan);
    }
  }
  const routes = peers.flatMap((p) => p.route ? [p.route] : []).sort((a, b) =>
    a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0
  );
  return {
    self,
    selfPodCidrs,
    bridgeGateways: selfPodCidrs.map(gatewayCidr),
    peers,
    routes,
  };
}

interface PeerArgs {
  node: NodeInfo;
  family: Family;
  selfPodCidrs: string[];
  claimed: string[];
  localIps: Set<string>;
  input: DesiredInput;
}

function planPeer(a: PeerArgs): PeerPlan | undefined {
  const { node, family } = a;
  if (!validNode(node)) {
    return family === 4
      ? { name: node.name, family, mode: "skip", reason: "invalid-entry" }
      : undefined;
  }
  const rawCidr = byFamily(node.podCidrs, family);
  const rawIp = byFamily(node.addresses, family);
  if (rawCidr === undefined) {
    // A node without any pod subnet is worth one line; a single-stack one is not.
    return family === 4 && node.podCidrs.length === 0
      ? { name: node.name, family, mode: "skip", reason: "no-pod-subnet", nodeIp: rawIp }
      : undefined;
  }
  const podCidr = canonCidr(rawCidr);
  const nodeIp = rawIp === undefined ? undefined : canonIp(rawIp);
  const base = { name: node.name, family, podCidr, nodeIp };
  if (nodeIp === undefined) return { ...base, mode: "skip", reason: "no-address-in-family" };
  if (a.selfPodCidrs.some((c) => cidrsOverlap(c, podCidr))) {
    return { ...base, mode: "skip", reason: "overlaps-own-subnet" };
  }
  if (a.claimed.some((c) => cidrsOverlap(c, podCidr))) {
    return { ...base, mode: "skip", reason: "duplicate-subnet" };
  }
  if (a.localIps.has(nodeIp)) return { ...base, mode: "skip", reason: "is-local-address" };
  const via = onLinkAddress(nodeIp, a.input.localAddrs, a.input.bridge);
  if (!via) return { ...base, mode: "skip", reason: "not-on-link" };
  a.claimed.push(podCidr);
  return {
    ...base,
    mode: "host-gw",
    route: { peer: node.name, family, dst: podCidr, gateway: nodeIp, linkIndex: via.linkIndex },
  };
}
