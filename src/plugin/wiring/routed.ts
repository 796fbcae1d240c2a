/**
 * Routed wiring (`"mode": "routed"`, Calico style): a veth per pod and no
 * bridge. The pod holds its addresses as /32 and /128 and a default route
 * via an on-link link-local gateway (169.254.1.1, fe80::1) that a permanent
 * neighbour entry resolves to the host veth's MAC, so no ARP or NDP is needed
 * in either direction: the node holds one host route per pod address on the
 * veth, tagged with hostgate's route protocol, and a permanent neighbour for
 * it. Nothing else of the node changes (no proxy_arp, no address on the host
 * veth), and the pod cannot reach another pod at layer 2.
 *
 * The agent's route sync owns only routes with a gateway; the per-pod routes
 * here have none (see `isPodRoute`), so a reconcile never removes them.
 * @module
 */
import type { IpamAddress, IpamRoute } from "../../ipam/types.ts";
import { ExistsError } from "../../system/netlink/errors.ts";
import type { Family } from "../../net/mod.ts";
import {
  HOSTGATE_ROUTE_PROTOCOL,
  type Link,
  type NetlinkHandle,
  type Route,
} from "../../system/netlink/types.ts";
import { messageOf, podLink, step, toCniError } from "../failure.ts";
import { canonicalCidr, canonicalIp, familyOf, splitCidr } from "../ip.ts";
import type { Logger } from "../../system/log.ts";
import type { ResultRoute } from "../../cni/mod.ts";

/** The pod's IPv4 gateway: link-local, never on the wire, answered by a static neighbour. */
export const ROUTED_GATEWAY_V4 = "169.254.1.1";
/** The pod's IPv6 gateway. */
export const ROUTED_GATEWAY_V6 = "fe80::1";

/** The link-local gateway of a family. */
export function routedGateway(family: Family): string {
  return family === 4 ? ROUTED_GATEWAY_V4 : ROUTED_GATEWAY_V6;
}

/** A pod address as the pod holds it in routed mode: "10.0.0.5/32", "fd00::5/128". */
export function hostCidr(address: string): string {
  const [ip] = splitCidr(address);
  return `${canonicalIp(ip)}/${familyOf(ip) === 4 ? 32 : 128}`;
}

/**
 * True for a route the plugin made for a pod: hostgate's protocol, no
 * gateway, a host prefix. The agent leaves these alone.
 */
export function isPodRoute(r: Route): boolean {
  if (r.protocol !== HOSTGATE_ROUTE_PROTOCOL || r.gateway !== undefined) return false;
  const [, prefix] = splitCidr(r.dst);
  return prefix === (r.family === 4 ? 32 : 128);
}

/** The node's host routes of one pod on its veth. */
export function podHostRoutes(veth: Link, ips: readonly IpamAddress[]): Route[] {
  return ips.map((ip) => ({
    family: familyOf(ip.address),
    dst: hostCidr(ip.address),
    linkIndex: veth.index,
    scope: "link" as const,
    protocol: HOSTGATE_ROUTE_PROTOCOL,
  }));
}

/** Turns forwarding on for `families` (read first, write only when off); a failure only warns. */
export function ensureForwarding(
  host: NetlinkHandle,
  opts: { families: Iterable<Family>; log: Logger },
): void {
  for (const f of new Set(opts.families)) {
    const key = f === 4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
    try {
      if (host.getSysctl(key).trim() !== "1") host.setSysctl(key, "1");
    } catch (e) {
      opts.log.warn(`Cannot enable ${key}: ${messageOf(e)}`);
    }
  }
}

/**
 * Node side: the host veth up, a permanent neighbour per pod address (the
 * pod's MAC) and a host route per address, replaced when a stale one holds
 * the destination (an earlier crashed ADD of the same address).
 */
export function ensureHostSide(
  host: NetlinkHandle,
  opts: { veth: Link; ips: readonly IpamAddress[]; podMac: string },
): void {
  const { veth } = opts;
  step(`set ${veth.name} up`, () => host.setLinkUp(veth.index));
  for (const ip of opts.ips) {
    const [addr] = splitCidr(ip.address);
    step(
      `add neighbour ${addr} on ${veth.name}`,
      () =>
        host.setNeighbor({ linkIndex: veth.index, ip: addr, mac: opts.podMac, permanent: true }),
    );
  }
  for (const r of podHostRoutes(veth, opts.ips)) {
    step(`add route ${r.dst} dev ${veth.name}`, () => host.replaceRoute(r));
  }
}

/** What `configureRoutedPod` installs inside the pod. */
export interface RoutedPodRequest {
  ifname: string;
  ips: readonly IpamAddress[];
  /** The host veth's MAC, the gateways' neighbour entry. */
  hostMac: string;
  ipamRoutes: readonly IpamRoute[];
  isDefaultGateway: boolean;
}

function isDefaultDst(dst: string): boolean {
  const c = canonicalCidr(dst);
  return c === "0.0.0.0/0" || c === "::/0";
}

/**
 * Pod side: DAD off (v6), the host-prefix addresses, link up, the gateways'
 * permanent neighbours, then the default routes (when isDefaultGateway) and
 * the IPAM routes, all via the link-local gateway. Returns the pod link and
 * the routes for the result.
 */
export function configureRoutedPod(
  pod: NetlinkHandle,
  req: RoutedPodRequest,
): { link: Link; routes: ResultRoute[] } {
  const link = podLink(pod, req.ifname);
  const families = new Set(req.ips.map((ip) => familyOf(ip.address)));
  if (families.has(6)) {
    step(
      `disable DAD on ${req.ifname}`,
      () => pod.setSysctl(`net/ipv6/conf/${req.ifname}/accept_dad`, "0"),
    );
  }
  for (const ip of req.ips) {
    const cidr = hostCidr(ip.address);
    try {
      pod.addAddr({ linkIndex: link.index, cidr, noDad: familyOf(cidr) === 6 });
    } catch (e) {
      if (!(e instanceof ExistsError)) throw toCniError(e, `add ${cidr} to ${req.ifname}`);
    }
  }
  step(`set ${req.ifname} up`, () => pod.setLinkUp(link.index));
  for (const f of families) {
    const gw = routedGateway(f);
    step(
      `add neighbour ${gw} in the pod`,
      () => pod.setNeighbor({ linkIndex: link.index, ip: gw, mac: req.hostMac, permanent: true }),
    );
  }
  const routes: ResultRoute[] = [];
  const seen = new Set<string>();
  const install = (dst: string) => {
    const f = familyOf(dst);
    if (!families.has(f)) return;
    const key = canonicalCidr(dst);
    if (seen.has(key)) return;
    seen.add(key);
    const gw = routedGateway(f);
    const route: Route = { family: f, dst: key, gateway: gw, linkIndex: link.index };
    if (f === 4) route.onlink = true;
    try {
      pod.addRoute(route);
    } catch (e) {
      if (!(e instanceof ExistsError)) throw toCniError(e, `add route ${dst} in the pod`);
    }
    routes.push({ dst: key, gw });
  };
  if (req.isDefaultGateway) {
    for (const f of [4, 6] as const) if (families.has(f)) install(f === 4 ? "0.0.0.0/0" : "::/0");
  }
  for (const r of req.ipamRoutes) {
    if (req.isDefaultGateway && isDefaultDst(r.dst)) continue;
    install(r.dst);
  }
  return { link, routes };
}
