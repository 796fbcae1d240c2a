/**
 * What this node should look like, as a pure function of the node list, the
 * node's own addresses and the config. No system calls: the reconcile loop
 * reads the kernel and diffs against this. Each peer gets a `mode`:
 * "host-gw" (a direct route via the peer's node IP), "vxlan" (an onlink
 * route via the peer's VTEP on hostgate's vxlan device, plus a neighbour and
 * an FDB entry) or "skip" with a reason. The backend decides: host-gw never
 * tunnels, vxlan always does (IPv4; it has one VTEP address), auto tunnels
 * only to peers whose node IP is not on-link. Addresses of a cluster-wide
 * IPAM (IPPool) live on any node: each one held by a pod on a routed peer
 * and outside that peer's pod subnets gets a host route (/32, /128) reached
 * exactly like the peer's subnets.
 * @module
 */
import type { NodeInfo, PodAddress, Vtep } from "../../datastore/mod.ts";
import {
  canonIp,
  CidrSet,
  cidrsOverlap,
  type Family,
  familyBits,
  familyOf,
  gatewayCidr,
  isCidr,
  isIp,
  normalizeCidr,
  parseCidr,
  type ParsedIp,
  tryParseIp,
} from "../../net/mod.ts";
import type { Cidr } from "../../net/mod.ts";
import type { Backend } from "../cli/mod.ts";
import { usableVtep } from "../vxlan/mod.ts";

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
  /** Peer pod subnet, or a pool address's host route ("10.244.100.7/32"), canonical. */
  dst: string;
  /** Peer node IP, canonical. */
  gateway: string;
  /** Uplink carrying the connected subnet the gateway lies in (host-gw), or the vxlan device. */
  linkIndex: number;
  /** Set on VXLAN routes: the gateway (the peer's VTEP) is on the device without a covering subnet. */
  onlink?: boolean;
}

/** The tunnel entries of one peer reached by VXLAN. */
export interface VxlanPeer {
  peer: string;
  /** Peer VTEP address (gateway of its route, key of the neighbour entry). */
  vtepIp: string;
  /** Peer VTEP MAC (neighbour entry's lladdr, key of the FDB entry). */
  vtepMac: string;
  /** Peer node IP: where the FDB entry sends the encapsulated frames. */
  nodeIp: string;
}

/** Why a peer (or one family of it) gets no route. */
export type SkipReason =
  | "not-on-link"
  | "no-address-in-family"
  | "no-pod-subnet"
  | "overlaps-own-subnet"
  | "duplicate-subnet"
  | "invalid-entry"
  | "is-local-address"
  | "no-vtep"
  | "duplicate-vtep"
  | "vxlan-unavailable";

/** Every skip reason, for metrics that show zeros too. */
export const SKIP_REASONS: readonly SkipReason[] = [
  "not-on-link",
  "no-address-in-family",
  "no-pod-subnet",
  "overlaps-own-subnet",
  "duplicate-subnet",
  "invalid-entry",
  "is-local-address",
  "no-vtep",
  "duplicate-vtep",
  "vxlan-unavailable",
];

/** How a peer is reached. */
export type PeerMode = "host-gw" | "vxlan" | "skip";

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
  /** The peer's VTEP, canonical, when mode is "vxlan". */
  vtep?: Vtep;
}

/** Inputs of `computeDesired`. */
export interface DesiredInput {
  selfName: string;
  nodes: readonly NodeInfo[];
  /** Addresses of this node (all links); the bridge is ignored. */
  localAddrs: readonly LocalAddress[];
  /** The pod bridge's name: its subnet never makes a peer "on-link". */
  bridge: string;
  /** "host-gw" when absent. */
  backend?: Backend;
  /** ifindex of hostgate's vxlan device; without it no peer gets "vxlan". */
  vxlanLinkIndex?: number;
  /** Pool addresses of a cluster-wide IPAM (Datastore.podAddresses); none when absent. */
  podAddresses?: readonly PodAddress[];
  /**
   * This node's VTEP as its device carries it (the MAC is random, so it is
   * read, not computed); else the VTEP of this node's own entry is used.
   */
  selfVtep?: Vtep;
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
  /** Every route (host-gw and vxlan), sorted by dst. */
  routes: DesiredRoute[];
  /** This node's VTEP when the backend uses VXLAN and it has an IPv4 pod subnet. */
  selfVtep?: Vtep;
  /** Neighbour and FDB entries for the peers reached by VXLAN, by peer name. */
  vxlan: VxlanPeer[];
}

function byFamily<T extends string>(items: readonly T[], family: Family): T | undefined {
  return items.find((x) => familyOf(x) === family);
}

/** A connected subnet of this node, parsed. */
interface Connected {
  addr: LocalAddress;
  cidr: Cidr;
}

/** This node's connected subnets (off the bridge and loopback, no host prefixes), parsed once. */
function connectedSubnets(localAddrs: readonly LocalAddress[], bridge: string): Connected[] {
  const out: Connected[] = [];
  for (const addr of localAddrs) {
    if (addr.linkName === bridge || addr.linkName === "lo") continue;
    const cidr = parseCidr(addr.cidr);
    if (cidr.prefix !== familyBits(cidr.family)) out.push({ addr, cidr });
  }
  return out;
}

/** The connected subnet holding `ip` with the longest prefix (the first of equals), if any. */
function onLinkIn(
  connected: readonly Connected[],
  ip: ParsedIp | undefined,
): Connected | undefined {
  let best: Connected | undefined;
  for (const c of connected) {
    if (ip === undefined || ip.family !== c.cidr.family) continue;
    if (ip.value < c.cidr.networkValue || ip.value > c.cidr.lastValue) continue;
    if (!best || c.cidr.prefix > best.cidr.prefix) best = c;
  }
  return best;
}

/** The local address whose connected subnet holds `ip` (longest prefix), if any. */
export function onLinkAddress(
  ip: string,
  localAddrs: readonly LocalAddress[],
  bridge: string,
): LocalAddress | undefined {
  return onLinkIn(connectedSubnets(localAddrs, bridge), tryParseIp(ip))?.addr;
}

function validNode(n: NodeInfo): boolean {
  return n.podCidrs.every(isCidr) && n.addresses.every(isIp);
}

/** A node's pod subnets, canonical, one per family, v4 first; none when its entry is invalid. */
export function podCidrsOf(node: NodeInfo | undefined): string[] {
  if (!node || !validNode(node)) return [];
  return [4, 6].map((f) => byFamily(node.podCidrs, f as Family))
    .filter((c): c is string => c !== undefined).map(normalizeCidr);
}

/**
 * Computes routes, bridge gateways and per-peer modes. Deterministic: equal
 * input gives equal output whatever the order of `nodes`.
 */
export function computeDesired(input: DesiredInput): DesiredState {
  const nodes = [...input.nodes].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const self = nodes.find((n) => n.name === input.selfName);
  const selfPodCidrs = podCidrsOf(self);
  const selfV4 = selfPodCidrs.find((c) => familyOf(c) === 4);
  const ownVtep = input.selfVtep ?? self?.vtep;
  const selfVtep = (input.backend ?? "host-gw") === "host-gw" || !selfV4
    ? undefined
    : usableVtep(ownVtep, selfV4);
  const localIps = new Set(input.localAddrs.map((a) => canonIp(a.cidr)));
  const peers: PeerPlan[] = [];
  const claimed = new CidrSet();
  const vteps = new Set(selfVtep ? [selfVtep.ip, selfVtep.mac] : []);
  // Parsed once a pass, not once a peer (20,000 peers: ~100 MB less garbage a pass).
  const connected = connectedSubnets(input.localAddrs, input.bridge);
  const selfParsed = selfPodCidrs.map((c) => parseCidr(c));
  for (const n of nodes) {
    if (n.name === input.selfName) continue;
    const valid = validNode(n);
    for (const family of [4, 6] as const) {
      const plan = planPeer({
        node: n,
        valid,
        family,
        selfParsed,
        claimed,
        vteps,
        localIps,
        connected,
        input,
      });
      if (plan) peers.push(plan);
    }
  }
  const subnetRoutes = peers.flatMap((p) => p.route ? [p.route] : []);
  const hostRoutes = podAddressRoutes({
    peers,
    podAddresses: input.podAddresses ?? [],
    selfPodCidrs,
    localIps,
  });
  const routes = [...subnetRoutes, ...hostRoutes].sort((a, b) =>
    a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0
  );
  const vxlan = peers.flatMap((p): VxlanPeer[] =>
    p.mode === "vxlan" && p.vtep && p.nodeIp
      ? [{ peer: p.name, vtepIp: p.vtep.ip, vtepMac: p.vtep.mac, nodeIp: p.nodeIp }]
      : []
  );
  const out: DesiredState = {
    self,
    selfPodCidrs,
    bridgeGateways: selfPodCidrs.map(gatewayCidr),
    peers,
    routes,
    vxlan,
  };
  if (selfVtep) out.selfVtep = selfVtep;
  return out;
}

interface PeerArgs {
  node: NodeInfo;
  /** validNode(node), computed once for both families. */
  valid: boolean;
  family: Family;
  selfParsed: readonly Cidr[];
  connected: readonly Connected[];
  claimed: CidrSet;
  /** VTEP addresses and MACs taken (this node's and earlier peers'). */
  vteps: Set<string>;
  localIps: Set<string>;
  input: DesiredInput;
}

function planPeer(a: PeerArgs): PeerPlan | undefined {
  const { node, family } = a;
  if (!a.valid) {
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
  const parsed = parseCidr(rawCidr);
  // The canonical text, sharing the datastore's string when it already is canonical.
  const podCidr = parsed.text === rawCidr ? rawCidr : parsed.text;
  const ip = rawIp === undefined ? undefined : tryParseIp(rawIp);
  const nodeIp = rawIp === undefined ? undefined : canonIp(rawIp);
  const base = { name: node.name, family, podCidr, nodeIp };
  if (nodeIp === undefined) return { ...base, mode: "skip", reason: "no-address-in-family" };
  if (a.selfParsed.some((c) => cidrsOverlap(c, parsed))) {
    return { ...base, mode: "skip", reason: "overlaps-own-subnet" };
  }
  if (a.claimed.overlaps(parsed)) {
    return { ...base, mode: "skip", reason: "duplicate-subnet" };
  }
  if (a.localIps.has(nodeIp)) return { ...base, mode: "skip", reason: "is-local-address" };
  const via = onLinkIn(a.connected, ip)?.addr;
  const backend = a.input.backend ?? "host-gw";
  const tunnel = family === 4 && (backend === "vxlan" || (backend === "auto" && !via));
  if (tunnel) return planVxlanPeer(a, { ...base, podCidr, nodeIp });
  if (!via) return { ...base, mode: "skip", reason: "not-on-link" };
  a.claimed.add(parsed);
  // One plain literal (not a spread of `base`): kept per peer until the next pass, and a
  // spread plus added fields costs a separate property array each.
  return {
    name: node.name,
    family,
    podCidr,
    nodeIp,
    mode: "host-gw",
    route: { peer: node.name, family, dst: podCidr, gateway: nodeIp, linkIndex: via.linkIndex },
  };
}

function planVxlanPeer(
  a: PeerArgs,
  base: { name: string; family: Family; podCidr: string; nodeIp: string },
): PeerPlan {
  const vtep = usableVtep(a.node.vtep, base.podCidr);
  if (!vtep) return { ...base, mode: "skip", reason: "no-vtep" };
  if (a.vteps.has(vtep.ip) || a.vteps.has(vtep.mac)) {
    return { ...base, mode: "skip", reason: "duplicate-vtep" };
  }
  const linkIndex = a.input.vxlanLinkIndex;
  if (linkIndex === undefined) return { ...base, mode: "skip", reason: "vxlan-unavailable" };
  a.claimed.add(base.podCidr);
  a.vteps.add(vtep.ip).add(vtep.mac);
  return {
    name: base.name,
    family: base.family,
    podCidr: base.podCidr,
    nodeIp: base.nodeIp,
    mode: "vxlan",
    vtep,
    route: {
      peer: base.name,
      family: base.family,
      dst: base.podCidr,
      gateway: vtep.ip,
      linkIndex,
      onlink: true,
    },
  };
}

/** Inputs of `podAddressRoutes`. */
interface PodAddressRouteArgs {
  peers: readonly PeerPlan[];
  podAddresses: readonly PodAddress[];
  selfPodCidrs: readonly string[];
  localIps: ReadonlySet<string>;
}

/**
 * One host route per held pool address of a routed peer, through the same
 * gateway and link as that peer's subnet route. Left out: released
 * addresses, this node's (the bridge reaches them), addresses of a peer
 * without a route in that family (skipped peers stay unreachable, as their
 * subnets do), addresses any routed subnet (or this node's) already covers,
 * and duplicates.
 */
function podAddressRoutes(a: PodAddressRouteArgs): DesiredRoute[] {
  const viaPeer = new Map<string, DesiredRoute>();
  const covered = new CidrSet();
  for (const c of a.selfPodCidrs) covered.add(c);
  for (const p of a.peers) {
    if (!p.route) continue;
    viaPeer.set(`${p.name}|${p.family}`, p.route);
    covered.add(p.route.dst);
  }
  const out = new Map<string, DesiredRoute>();
  for (const pa of a.podAddresses) {
    if (pa.released || !isIp(pa.ip)) continue;
    const ip = canonIp(pa.ip);
    const family = familyOf(ip);
    const base = viaPeer.get(`${pa.node}|${family}`);
    if (!base || a.localIps.has(ip)) continue;
    const dst = `${ip}/${familyBits(family)}`;
    if (covered.overlaps(dst) || out.has(dst)) continue;
    out.set(dst, { ...base, dst });
  }
  return [...out.values()];
}
