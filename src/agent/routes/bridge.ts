/**
 * The pod bridge with its gateway addresses, created by the agent before the
 * first pod so node-to-pod traffic and the conflist's gateway exist from the
 * start. With `removeOthers` (the pass trusts its node list) the bridge holds
 * exactly one node-subnet gateway per family: the gateway of an older subnet
 * of this node (same size) is removed, so a reassignment can never leave two
 * side by side. Other addresses (an IPPool's gateway) are left alone.
 * @module
 */
import { ExistsError, LinkExistsError } from "../../system/netlink/errors.ts";
import type { NetlinkHandle } from "../../system/netlink/types.ts";
import { randomMac } from "../../plugin/names.ts";
import { canonCidr, canonIp, familyOf } from "../../net/mod.ts";
import type { SysctlAccess } from "../reconcile/sysctl.ts";
import type { Logger } from "../observe/log.ts";

/** Ensures the bridge exists, is up and holds `gateways`; returns the number of writes. */
export async function ensureBridge(
  handle: NetlinkHandle,
  sysctl: SysctlAccess,
  opts: {
    name: string;
    mtu?: number;
    gateways: readonly string[];
    /** Remove addresses of a family that has a gateway here but not this one. */
    removeOthers?: boolean;
    log?: Logger;
  },
): Promise<number> {
  let writes = 0;
  let link = handle.getLink(opts.name);
  if (!link) {
    try {
      // A fixed MAC: otherwise the bridge takes its lowest port's MAC and changes it
      // when that pod goes, leaving the other pods' ARP entries for the gateway stale.
      link = handle.addBridge({ name: opts.name, mtu: opts.mtu, mac: randomMac() });
      writes++;
    } catch (e) {
      // The plugin created it at the same moment: use theirs.
      if (!(e instanceof LinkExistsError)) throw e;
      link = handle.getLink(opts.name);
    }
    if (!link) throw new Error(`Cannot create the bridge ${opts.name}: it vanished`);
  }
  if (link.kind !== "bridge") {
    throw new Error(`Cannot use ${opts.name} as the pod bridge: it is a ${link.kind || "device"}`);
  }
  if (!link.up) {
    handle.setLinkUp(link.index);
    writes++;
  }
  const addrs = handle.listAddrs({ linkIndex: link.index });
  const text = (cidr: string) => `${canonIp(cidr)}/${cidr.split("/")[1]}`;
  const have = new Set(addrs.map((a) => text(a.cidr)));
  const wanted = new Set(opts.gateways.map(text));
  if (opts.removeOthers) {
    // Only gateways of an older node subnet (same family and size) go; others on the
    // bridge (an IPPool's gateway, link-local) are not this step's business.
    const sizes = new Set(opts.gateways.map((g) => `${familyOf(g)}/${g.split("/")[1]}`));
    for (const a of addrs) {
      const t = text(a.cidr);
      const ip = canonIp(a.cidr);
      if (wanted.has(t) || !sizes.has(`${familyOf(ip)}/${a.cidr.split("/")[1]}`)) continue;
      if (familyOf(ip) === 6 && ip.startsWith("fe80:")) continue;
      handle.deleteAddr({ linkIndex: link.index, cidr: t });
      opts.log?.info("old bridge gateway removed", { bridge: opts.name, address: t });
      writes++;
    }
  }
  for (const gw of opts.gateways) {
    const want = text(gw);
    if (have.has(want)) continue;
    if (familyOf(gw) === 6) {
      try {
        await sysctl.set(`net/ipv6/conf/${opts.name}/accept_dad`, "0");
      } catch {
        // IPv6 disabled on the link: the address add below reports it.
      }
    }
    try {
      handle.addAddr({ linkIndex: link.index, cidr: want });
      opts.log?.info("bridge gateway added", { bridge: opts.name, address: want });
      writes++;
    } catch (e) {
      if (!(e instanceof ExistsError)) throw e;
    }
  }
  return writes;
}

/** Network part of a gateway address, for logs. */
export function gatewaySubnet(gw: string): string {
  return canonCidr(gw);
}
