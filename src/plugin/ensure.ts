/**
 * The idempotent steps of ADD, each safe to repeat after a crash or a
 * parallel ADD: ensure the bridge, its gateway addresses and forwarding,
 * the veth pair, and the pod side (addresses, DAD off, routes). They act
 * only through NetlinkHandle, so unit tests run them against FakeNetlink.
 * @module
 */
import type { ResultRoute } from "../cni/mod.ts";
import { CniCode, CniError } from "../errors.ts";
import type { IpamAddress, IpamRoute } from "../ipam/types.ts";
import { ExistsError, LinkExistsError } from "../system/netlink/errors.ts";
import {
  BridgeVanishedError,
  ensureBridge as ensureNetlinkBridge,
  NotABridgeError,
} from "../system/netlink/bridge.ts";
import type { Family } from "../net/mod.ts";
import type { Link, NetlinkHandle, Route } from "../system/netlink/types.ts";
import { messageOf, podLink, step, toCniError } from "./failure.ts";
import type { Logger } from "../system/log.ts";
import { canonicalCidr, canonicalIp, familyOf, firstHost, splitCidr } from "./ip.ts";
import type { NetConf } from "./netconf.ts";

/** A gateway of one allocated address: the IP and the CIDR it gets on the bridge. */
export interface Gateway {
  family: Family;
  ip: string;
  /** "10.22.0.1/24": the gateway with the pod subnet's prefix. */
  cidr: string;
}

/**
 * The gateway of each allocated address: the IPAM's, or (when the bridge must
 * be the gateway and IPAM named none) the subnet's first host, like the
 * reference bridge plugin. Duplicates are dropped.
 */
export function gatewaysOf(ips: IpamAddress[], isGateway: boolean): Gateway[] {
  const out: Gateway[] = [];
  for (const ip of ips) {
    const gw = ip.gateway ?? (isGateway ? firstHost(ip.address) : undefined);
    if (!gw) continue;
    const [, prefix] = splitCidr(ip.address);
    const text = canonicalIp(gw);
    const g = { family: familyOf(ip.address), ip: text, cidr: `${text}/${prefix}` };
    if (!out.some((o) => o.ip === g.ip)) out.push(g);
  }
  return out;
}

/**
 * Makes sure `conf.bridge` exists, is a bridge, is up (and promiscuous when
 * asked), with src/system's one bridge ensure (shared with the agent). A link
 * of that name that is not a bridge is error 7 naming `bridge`; a bridge a
 * parallel ADD created and another removed at once is 11 (try again).
 */
export function ensureBridge(host: NetlinkHandle, conf: NetConf): Link {
  return bridgeStep(conf.bridge, () =>
    ensureNetlinkBridge(host, {
      name: conf.bridge,
      mtu: conf.mtu,
      promisc: conf.promiscMode,
    }).link);
}

/** Runs a bridge ensure, mapping its typed errors to CNI codes. */
function bridgeStep<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NotABridgeError) {
      throw new CniError(CniCode.InvalidNetworkConfig, e.message, "config key: bridge");
    }
    if (e instanceof BridgeVanishedError) throw new CniError(CniCode.TryAgainLater, e.message);
    throw toCniError(e, `ensure bridge ${name}`);
  }
}

/**
 * Puts each gateway address on the bridge unless the IP is already there
 * (whatever its prefix; v6 without DAD, so usable at once), through the same
 * shared ensure, and turns forwarding on for the families used.
 */
export function ensureGateways(
  host: NetlinkHandle,
  target: { bridge: Link; gateways: Gateway[]; log: Logger },
): void {
  const { bridge, gateways, log } = target;
  if (gateways.length === 0) return;
  bridgeStep(
    bridge.name,
    () => ensureNetlinkBridge(host, { name: bridge.name, gateways: gateways.map((g) => g.cidr) }),
  );
  const families = new Set(gateways.map((g) => g.family));
  for (const f of families) {
    const key = f === 4 ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
    try {
      if (host.getSysctl(key).trim() !== "1") host.setSysctl(key, "1");
    } catch (e) {
      // Forwarding is node-wide and the agent keeps it on too: a pod on this
      // bridge works without it, so this is a warning, not a failed ADD.
      log.warn(`Cannot enable ${key}: ${messageOf(e)}`);
    }
  }
}

/**
 * Turns proxy ARP on for the bridge (idempotent: read first, write only when
 * off). Needed with a cluster-wide pool (hostgate-ippool): its prefix (say
 * /22) makes a pod on another node look on-link to a pod, which then ARPs for
 * it on the bridge. With proxy_arp the kernel answers with the bridge's MAC
 * exactly for targets it routes out of another interface (the agent's host
 * route to that pod's node), never for a pod on this bridge (connected
 * route), which answers for itself.
 */
export function ensureProxyArp(host: NetlinkHandle, bridge: Link): void {
  const key = `net/ipv4/conf/${bridge.name}/proxy_arp`;
  step(`enable ${key}`, () => {
    if (host.getSysctl(key).trim() !== "1") host.setSysctl(key, "1");
  });
}

/** What `ensureVeth` creates. */
export interface VethRequest {
  hostName: string;
  ifname: string;
  netns: string;
  mtu?: number;
  /** The pod end's MAC (the guard pins it before the link exists); random when absent. */
  peerMac?: string;
}

/**
 * Creates the veth pair, the pod end directly inside the pod's netns. A
 * host-side link left by an earlier crashed ADD of the same attachment (its
 * name is derived from containerId+ifname) is replaced.
 */
export function ensureVeth(host: NetlinkHandle, req: VethRequest): Link {
  const spec = { name: req.hostName, peerName: req.ifname, peerNetns: req.netns } as {
    name: string;
    peerName: string;
    peerNetns: string;
    mtu?: number;
    peerMac?: string;
  };
  if (req.mtu !== undefined) spec.mtu = req.mtu;
  if (req.peerMac !== undefined) spec.peerMac = req.peerMac;
  try {
    return host.addVeth(spec);
  } catch (e) {
    if (!(e instanceof LinkExistsError)) throw toCniError(e, `create veth ${req.hostName}`);
    const stale = host.getLink(req.hostName);
    if (!stale) throw toCniError(e, `create veth ${req.hostName}`);
    step(`remove stale ${req.hostName}`, () => host.deleteLink(stale.index));
    return step(`create veth ${req.hostName}`, () => host.addVeth(spec));
  }
}

/** Enslaves the host end to the bridge, sets hairpin when asked, and brings it up. */
export function attachHostVeth(
  host: NetlinkHandle,
  opts: { veth: Link; bridge: Link; hairpin: boolean },
): void {
  const { veth, bridge } = opts;
  step(`attach ${veth.name} to ${bridge.name}`, () => host.setMaster(veth.index, bridge.index));
  if (opts.hairpin) step(`set hairpin on ${veth.name}`, () => host.setHairpin(veth.index, true));
  step(`set ${veth.name} up`, () => host.setLinkUp(veth.index));
}

/** What `configurePod` installs inside the pod. */
export interface PodRequest {
  ifname: string;
  ips: IpamAddress[];
  gateways: Gateway[];
  ipamRoutes: IpamRoute[];
  isDefaultGateway: boolean;
}

function isDefaultDst(dst: string): boolean {
  if (dst === "0.0.0.0/0" || dst === "::/0") return true;
  return dst.endsWith("/0") && canonicalCidr(dst) === "::/0";
}

/**
 * Configures the pod end: IPv6 DAD off (accept_dad=0 before any v6
 * address, and each v6 address added with IFA_F_NODAD, so it is usable at
 * once), addresses, link up, then default routes via the gateways (when
 * isDefaultGateway) and the IPAM routes. Returns the pod link and the routes
 * for the result.
 */
export function configurePod(
  pod: NetlinkHandle,
  req: PodRequest,
): { link: Link; routes: ResultRoute[] } {
  const link = podLink(pod, req.ifname);
  if (req.ips.some((ip) => familyOf(ip.address) === 6)) {
    // DAD off before any v6 address, so the link-local one is usable at once too.
    step(
      `disable DAD on ${req.ifname}`,
      () => pod.setSysctl(`net/ipv6/conf/${req.ifname}/accept_dad`, "0"),
    );
  }
  for (const ip of req.ips) {
    try {
      // IFA_F_NODAD: no duplicate address detection, the v6 address is usable at once.
      pod.addAddr({ linkIndex: link.index, cidr: ip.address, noDad: familyOf(ip.address) === 6 });
    } catch (e) {
      if (!(e instanceof ExistsError)) throw toCniError(e, `add ${ip.address} to ${req.ifname}`);
    }
  }
  step(`set ${req.ifname} up`, () => pod.setLinkUp(link.index));
  const gwOf = (f: Family) => req.gateways.find((g) => g.family === f)?.ip;
  const routes: ResultRoute[] = [];
  const installed = new Set<string>();
  const install = (family: Family, dst: string, gw: string | undefined) => {
    const key = `${dst} ${gw ?? ""}`;
    if (installed.has(key)) return;
    installed.add(key);
    const route: Route = { family, dst, linkIndex: link.index };
    if (gw) route.gateway = gw;
    else route.scope = "link";
    try {
      pod.addRoute(route);
    } catch (e) {
      if (!(e instanceof ExistsError)) throw toCniError(e, `add route ${dst} in the pod`);
    }
  };
  const defaults = new Set<Family>();
  if (req.isDefaultGateway) {
    for (const f of [4, 6] as const) {
      const gw = gwOf(f);
      if (!gw) continue;
      const dst = f === 4 ? "0.0.0.0/0" : "::/0";
      install(f, dst, gw);
      routes.push({ dst, gw });
      defaults.add(f);
    }
  }
  for (const r of req.ipamRoutes) {
    const f = familyOf(r.dst);
    if (defaults.has(f) && isDefaultDst(r.dst)) continue;
    install(f, r.dst, r.gw ?? gwOf(f));
    routes.push(r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst });
  }
  return { link, routes };
}
