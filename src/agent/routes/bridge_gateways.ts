/**
 * The other half of the bridge's gateways: the shared ensure
 * (src/system/netlink/bridge.ts) only adds, so the agent removes the gateway
 * of an older node subnet of this node here, once its node list is
 * authoritative. The bridge then holds exactly one node-subnet gateway per
 * family; a reassignment never leaves two side by side. Addresses of another
 * size (an IPPool's gateway) and link-local ones are not touched.
 * @module
 */
import { canonIp, familyOf } from "../../net/mod.ts";
import type { NetlinkHandle } from "../../system/netlink/types.ts";
import type { Logger } from "../observe/mod.ts";

/** Removes older node-subnet gateways from `bridge`; returns how many it removed. */
export function removeOldGateways(
  handle: NetlinkHandle,
  o: { bridge: string; gateways: readonly string[]; log: Logger },
): number {
  const link = handle.getLink(o.bridge);
  if (!link) return 0;
  const text = (cidr: string) => `${canonIp(cidr)}/${cidr.split("/")[1]}`;
  const wanted = new Set(o.gateways.map(text));
  const sizes = new Set(o.gateways.map((g) => `${familyOf(g)}/${g.split("/")[1]}`));
  let n = 0;
  for (const a of handle.listAddrs({ linkIndex: link.index })) {
    const t = text(a.cidr);
    const ip = canonIp(a.cidr);
    if (wanted.has(t) || !sizes.has(`${familyOf(ip)}/${a.cidr.split("/")[1]}`)) continue;
    if (familyOf(ip) === 6 && ip.startsWith("fe80:")) continue;
    handle.deleteAddr({ linkIndex: link.index, cidr: t });
    o.log.info("old bridge gateway removed", { bridge: o.bridge, address: t });
    n++;
  }
  return n;
}
