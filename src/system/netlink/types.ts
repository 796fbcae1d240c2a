/**
 * The netlink interface the rest of hostgate programs against. Two
 * implementations: the real one over Deno FFI (ffi_netlink.ts) and a stateful
 * fake with fault injection (fake_netlink.ts) for fast unit tests.
 *
 * Every call is synchronous on purpose: FFI calls are synchronous, and a
 * synchronous API makes "never await while switched into another netns"
 * impossible to get wrong.
 * @module
 */

import type { Family } from "../../net/mod.ts";

/** A network interface as the kernel reports it. */
export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: "bridge", "veth", "vxlan", ... or "" when none. */
  kind: string;
  mtu: number;
  /** "aa:bb:cc:dd:ee:ff", lower case. */
  mac: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** ifindex of the master (bridge) when enslaved. */
  master?: number;
  promisc: boolean;
  /** Bridge port hairpin mode, when the link is a bridge port. */
  hairpin?: boolean;
  /** For vxlan links. */
  vxlan?: VxlanInfo;
  /**
   * For veth links: ifindex of the peer (IFLA_LINK), an index in the peer's
   * own netns, so CHECK can tell that a host veth still pairs with the pod's.
   */
  peerIndex?: number;
}

/** VXLAN device parameters. */
export interface VxlanInfo {
  vni: number;
  port: number;
  /** Local (source) address of the tunnel. */
  local?: string;
  /** ifindex of the underlay device. */
  underlay?: number;
  learning: boolean;
}

/** An interface address, `cidr` like "10.22.0.1/24" or "fd00::1/64". */
export interface Address {
  linkIndex: number;
  cidr: string;
  family: Family;
}

/** Route scope names used by hostgate. */
export type RouteScope = "universe" | "link" | "host";

/**
 * Route types (RTN_*). Only the kinds a node's tables hold; "unicast" when
 * absent. Listing reports it so a blackhole is never mistaken for a path.
 */
export type RouteType =
  | "unicast"
  | "local"
  | "broadcast"
  | "anycast"
  | "multicast"
  | "blackhole"
  | "unreachable"
  | "prohibit"
  | "throw";

/** A route. `dst` is a CIDR; the default route is "0.0.0.0/0" or "::/0". */
export interface Route {
  family: Family;
  dst: string;
  gateway?: string;
  linkIndex?: number;
  /** RTPROT_*; hostgate tags its own routes with HOSTGATE_ROUTE_PROTOCOL. */
  protocol?: number;
  /** Routing table; main (254) when absent. */
  table?: number;
  scope?: RouteScope;
  /** RTNH_F_ONLINK: gateway is on the link even if no address covers it. */
  onlink?: boolean;
  /** Preferred source address. */
  src?: string;
  metric?: number;
  /** RTN_* type; "unicast" when absent (listing omits it for unicast). */
  type?: RouteType;
}

/** A neighbour (ARP/NDP) entry. */
export interface Neighbor {
  linkIndex: number;
  ip: string;
  mac: string;
  /** NUD_PERMANENT. */
  permanent: boolean;
}

/** A bridge/vxlan forwarding database entry (AF_BRIDGE neighbour). */
export interface FdbEntry {
  linkIndex: number;
  mac: string;
  /** Remote tunnel endpoint (NDA_DST) for vxlan. */
  dst?: string;
}

/** What to create for a veth pair. */
export interface VethSpec {
  /** Host side name (created in the handle's netns). */
  name: string;
  /** Peer name, created directly inside `peerNetns`. */
  peerName: string;
  /** Path of the peer's netns, e.g. /run/netns/pod1 or /proc/123/ns/net. */
  peerNetns: string;
  mtu?: number;
  /** MAC for the peer (container) side; random when absent. */
  peerMac?: string;
}

/** What to create for a vxlan device. */
export interface VxlanSpec {
  name: string;
  vni: number;
  port: number;
  local?: string;
  underlay?: number;
  mtu?: number;
  mac?: string;
  learning?: boolean;
}

/** Filter for listRoutes. */
export interface RouteFilter {
  /** Both families when absent. */
  family?: Family;
  /** Main (254) when absent; 0 (RT_TABLE_UNSPEC) lists every table. */
  table?: number;
  protocol?: number;
  linkIndex?: number;
}

/**
 * A netlink connection bound to one network namespace. All methods act in
 * that namespace only. Errors are the typed errors of errors.ts.
 */
export interface NetlinkHandle {
  /** The netns path this handle acts in, or "" for the caller's own. */
  readonly netns: string;

  getLink(name: string): Link | undefined;
  getLinkByIndex(index: number): Link | undefined;
  listLinks(): Link[];
  /** Creates a bridge; throws LinkExistsError when the name is taken. */
  addBridge(opts: { name: string; mtu?: number; mac?: string }): Link;
  /** Creates a veth pair, the peer directly inside spec.peerNetns. Returns the host side. */
  addVeth(spec: VethSpec): Link;
  addVxlan(spec: VxlanSpec): Link;
  /** Creates an IFB device (traffic shaping of a pod's egress); LinkExistsError when taken. */
  addIfb(opts: { name: string; mtu?: number }): Link;
  /** The setters throw LinkNotFoundError when the index does not exist. */
  setLinkUp(index: number): void;
  setLinkDown(index: number): void;
  /**
   * Enslaves to a bridge; 0 releases. Like the kernel, the old master is left
   * first, so a failed call (bad master: EINVAL / EOPNOTSUPP) leaves it unenslaved.
   */
  setMaster(index: number, masterIndex: number): void;
  setMtu(index: number, mtu: number): void;
  setMac(index: number, mac: string): void;
  setHairpin(index: number, on: boolean): void;
  setPromisc(index: number, on: boolean): void;
  /** Deletes a link; throws LinkNotFoundError when absent. */
  deleteLink(index: number): void;
  /**
   * Deletes the link named `name`, waiting for the kernel off the JS thread:
   * a veth delete returns only after an RCU barrier (~15-20 ms) that the
   * caller can spend on other work. Resolves false when there is no such
   * link. Optional (the real handle has it): without it, getLink + deleteLink.
   */
  deleteLinkByNameAsync?(name: string): Promise<boolean>;

  listAddrs(opts?: { linkIndex?: number; family?: Family }): Address[];
  /** Adds an address; throws ExistsError when present. */
  addAddr(addr: AddAddrOptions): void;
  /** Deletes an address; throws NotFoundError when absent. */
  deleteAddr(addr: { linkIndex: number; cidr: string }): void;

  listRoutes(filter?: RouteFilter): Route[];
  /** Adds a route; throws ExistsError when an equal route exists. */
  addRoute(route: Route): void;
  /** Adds, or replaces the route with the same dst, table and metric (NLM_F_REPLACE). */
  replaceRoute(route: Route): void;
  /** Deletes a route; throws NotFoundError when absent. */
  deleteRoute(route: Route): void;

  listNeighbors(opts?: { linkIndex?: number; family?: Family }): Neighbor[];
  /** Adds or replaces a neighbour entry. */
  setNeighbor(neigh: Neighbor): void;
  /** Deletes a neighbour entry; throws NotFoundError when absent. */
  deleteNeighbor(neigh: { linkIndex: number; ip: string }): void;

  listFdb(opts?: { linkIndex?: number }): FdbEntry[];
  /** Adds or replaces an FDB entry (NLM_F_REPLACE|NLM_F_CREATE, NTF_SELF). */
  setFdb(entry: FdbEntry): void;
  /**
   * Appends an FDB entry (NLM_F_CREATE|NLM_F_APPEND): one more remote for the
   * same MAC, as the all-zero MAC of a vxlan flood list needs.
   */
  appendFdb(entry: FdbEntry): void;
  /** Deletes an FDB entry (only the given remote when `dst` is set); NotFoundError when absent. */
  deleteFdb(entry: FdbEntry): void;

  /**
   * Reads a sysctl of this netns, e.g. "net/ipv6/conf/eth0/accept_dad" (slash
   * form only: interface names may contain dots). Trailing newline removed;
   * NotFoundError when the key does not exist.
   */
  getSysctl(key: string): string;
  /** Writes a sysctl of this netns. */
  setSysctl(key: string, value: string): void;

  /** Closes the socket(s). */
  close(): void;
}

/** Options of NetlinkHandle.addAddr. */
export interface AddAddrOptions {
  linkIndex: number;
  cidr: string;
  /** IPv6: IFA_F_NODAD, the address is usable at once (no duplicate detection). */
  noDad?: boolean;
}

/** A route added to or deleted from a table, as the route monitor saw it. */
export interface RouteEvent {
  /** "add" for RTM_NEWROUTE (also a replace), "delete" for RTM_DELROUTE. */
  kind: "add" | "delete";
  route: Route;
}

/** Options of Netlink.monitorRoutes. */
export interface RouteMonitorOptions {
  /** Netns path to watch; the caller's own when omitted. */
  netns?: string;
  /** Stops the monitor; the returned promise resolves soon after. */
  signal: AbortSignal;
  /** Called for every IPv4/IPv6 route change (all tables, cloned routes skipped). */
  onEvent: (ev: RouteEvent) => void;
  /**
   * Called when the kernel dropped events (ENOBUFS): the caller must resync
   * from a full listing, since some changes were not seen.
   */
  onOverflow?: () => void;
  /**
   * When set, the monitor also subscribes to link, address and neighbour
   * (incl. bridge FDB) changes and reports each with the ifindex it concerns,
   * so the caller can repair what it owns without waiting for a timer.
   */
  onLinkEvent?: (ev: LinkEvent) => void;
}

/** A link, address or neighbour/FDB change, as the monitor saw it. */
export interface LinkEvent {
  /** "netconf": a forwarding (or other per-device config) sysctl changed; ifindex -1 = all. */
  kind: "link" | "addr" | "neigh" | "netconf";
  op: "add" | "delete";
  ifindex: number;
}

/** Opens handles; the seam where tests swap the real kernel for the fake. */
export interface Netlink {
  /** Opens a handle in `netns` (a path), or in the caller's own netns when omitted. */
  open(netns?: string): NetlinkHandle;
  /**
   * Watches route changes (RTMGRP_IPV4_ROUTE|RTMGRP_IPV6_ROUTE) without
   * blocking the JS thread. The subscription is live when this returns, so
   * changes made afterwards are seen. Resolves after `signal` aborts; rejects
   * when the netns is missing (NoSuchNetnsError) or `onEvent` throws.
   */
  monitorRoutes(opts: RouteMonitorOptions): Promise<void>;
}

/** RTPROT number hostgate stamps on every route it owns ("hostgate" = 151). */
export const HOSTGATE_ROUTE_PROTOCOL = 151;

/** The kernel's main routing table, where hostgate's routes live. */
export { RT_TABLE_MAIN } from "./constants.ts";
