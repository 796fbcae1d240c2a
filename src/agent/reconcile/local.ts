/**
 * What the agent reads about its own node from the kernel: addresses with
 * their links, the node IPs to announce, and the uplink MTU. Reads only.
 * @module
 */
import { type Link, type NetlinkHandle, RT_TABLE_MAIN } from "../../system/netlink/types.ts";
import { canonIp, cidrContainsIp, type Family, familyOf } from "../../net/mod.ts";
import type { LocalAddress } from "./desired_state.ts";
import { HOST_VETH_PATTERN } from "../../plugin/names.ts";

/** Every address of the node with its link name. */
export function readLocalAddrs(handle: NetlinkHandle): LocalAddress[] {
  const links = new Map(handle.listLinks().map((l) => [l.index, l]));
  return handle.listAddrs().map((a) => ({
    linkIndex: a.linkIndex,
    linkName: links.get(a.linkIndex)?.name ?? "",
    cidr: a.cidr,
  }));
}

function usable(cidr: string): boolean {
  const ip = canonIp(cidr);
  return !(familyOf(ip) === 6 && cidrContainsIp("fe80::/10", ip)) && ip !== "127.0.0.1" &&
    ip !== "::1";
}

/** Options of `detectUplink`. */
export interface UplinkOptions {
  /** Interface named by the operator, if any. */
  iface: string;
  /** Node IPs named by the operator, if any. */
  nodeIps: readonly string[];
  /** The pod bridge, never an uplink. */
  bridge: string;
}

/** The uplink and the node IPs found on it (or named). */
export interface Uplink {
  link?: Link;
  nodeIps: string[];
}

function linkOfDefaultRoute(handle: NetlinkHandle, family: Family): number | undefined {
  const dst = family === 4 ? "0.0.0.0/0" : "::/0";
  return handle.listRoutes({ family, table: RT_TABLE_MAIN }).find((r) => r.dst === dst)?.linkIndex;
}

/**
 * Finds the uplink and node IPs: named IPs and their link first; else the
 * named interface; else the default route's link; else the first up link
 * that is not loopback, a bridge, a bridge port or a vxlan device (its /32
 * VTEP address is no node IP) and has an address.
 */
export function detectUplink(handle: NetlinkHandle, opts: UplinkOptions): Uplink {
  const addrs = readLocalAddrs(handle).filter((a) => usable(a.cidr));
  const links = handle.listLinks();
  const byIndex = new Map(links.map((l) => [l.index, l]));
  if (opts.nodeIps.length > 0) {
    const ips = opts.nodeIps.map(canonIp);
    const on = addrs.find((a) => ips.includes(canonIp(a.cidr)));
    const link = opts.iface ? links.find((l) => l.name === opts.iface) : undefined;
    return { link: link ?? (on ? byIndex.get(on.linkIndex) : undefined), nodeIps: ips };
  }
  let link: Link | undefined;
  if (opts.iface) {
    link = links.find((l) => l.name === opts.iface);
  } else {
    const idx = linkOfDefaultRoute(handle, 4) ?? linkOfDefaultRoute(handle, 6);
    link = idx === undefined ? undefined : byIndex.get(idx);
  }
  if (!link) {
    link = links.filter((l) =>
      l.name !== "lo" && l.name !== opts.bridge && l.master === undefined &&
      !HOST_VETH_PATTERN.test(l.name) &&
      l.kind !== "bridge" && l.kind !== "vxlan" &&
      l.up && addrs.some((a) =>
        a.linkIndex === l.index
      )
    ).sort((a, b) => a.index - b.index)[0];
  }
  if (!link) return { nodeIps: [] };
  const ips: string[] = [];
  for (const family of [4, 6] as const) {
    const a = addrs.find((x) => x.linkIndex === link!.index && familyOf(x.cidr) === family);
    if (a) ips.push(canonIp(a.cidr));
  }
  return { link, nodeIps: ips };
}
