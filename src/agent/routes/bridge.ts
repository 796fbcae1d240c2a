/**
 * The pod bridge with its gateway addresses, created by the agent before the
 * first pod so node-to-pod traffic and the conflist's gateway exist from the
 * start. Add-only: an address of an old subnet is left for the pods using it.
 * @module
 */
import { ExistsError, LinkExistsError } from "../../system/netlink/errors.ts";
import type { NetlinkHandle } from "../../system/netlink/types.ts";
import { randomMac } from "../../plugin/names.ts";
import { canonIp, familyOf } from "../../net/mod.ts";

/** Ensures the bridge exists, is up and holds `gateways`; returns the number of writes. */
export function ensureBridge(
  handle: NetlinkHandle,
  opts: { name: string; mtu?: number; gateways: readonly string[] },
): number {
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
  const have = new Set(
    handle.listAddrs({ linkIndex: link.index }).map((a) =>
      `${canonIp(a.cidr)}/${a.cidr.split("/")[1]}`
    ),
  );
  for (const gw of opts.gateways) {
    const want = `${canonIp(gw)}/${gw.split("/")[1]}`;
    if (have.has(want)) continue;
    if (familyOf(gw) === 6) {
      try {
        handle.setSysctl(`net/ipv6/conf/${opts.name}/accept_dad`, "0");
      } catch {
        // IPv6 disabled on the link: the address add below reports it.
      }
    }
    try {
      handle.addAddr({ linkIndex: link.index, cidr: want });
      writes++;
    } catch (e) {
      if (!(e instanceof ExistsError)) throw e;
    }
  }
  return writes;
}
