/**
 * The route monitor: a netlink socket subscribed to IPv4/IPv6 route changes
 * (and, on request, link, address, neighbour and netconf changes), waiting
 * in the shared poll loop of monitor_loop.ts.
 * @module
 */

import {
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEIGH,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTMGRP_IPV4_ROUTE,
  RTMGRP_IPV6_ROUTE,
} from "./constants.ts";
import type { Libc } from "./libc.ts";
import { pollMonitor } from "./monitor_loop.ts";
import { decodeRoute } from "./route_codec.ts";
import { openSocketIn } from "./socket.ts";
import type { LinkEvent, RouteMonitorOptions } from "./types.ts";

/** Link, neighbour, IPv4 and IPv6 address groups (rtnetlink.h). */
const RTMGRP_LINK = 0x1;
const RTMGRP_NEIGH = 0x4;
const RTMGRP_IPV4_IFADDR = 0x10;
const RTMGRP_IPV6_IFADDR = 0x100;
/** RTNLGRP_IPV4_NETCONF (24) and RTNLGRP_IPV6_NETCONF (25) as group bits. */
const RTMGRP_IPV4_NETCONF = 1 << 23;
const RTMGRP_IPV6_NETCONF = 1 << 24;
const RTM_NEWNETCONF = 80;

const OTHER: Record<number, Pick<LinkEvent, "kind" | "op">> = {
  [RTM_NEWLINK]: { kind: "link", op: "add" },
  [RTM_DELLINK]: { kind: "link", op: "delete" },
  [RTM_NEWADDR]: { kind: "addr", op: "add" },
  [RTM_DELADDR]: { kind: "addr", op: "delete" },
  [RTM_NEWNEIGH]: { kind: "neigh", op: "add" },
  [RTM_DELNEIGH]: { kind: "neigh", op: "delete" },
  [RTM_NEWNETCONF]: { kind: "netconf", op: "add" },
};

/** ifinfomsg, ifaddrmsg and ndmsg all carry the ifindex as an int at offset 4 (netconf: -1). */
function ifindexOf(body: Uint8Array, type: number): number {
  if (type === RTM_NEWNETCONF) return -1;
  if (body.length < 8) return 0;
  return new DataView(body.buffer, body.byteOffset, body.byteLength).getInt32(4, true);
}

/** See Netlink.monitorRoutes. */
export async function monitorRoutes(libc: Libc, opts: RouteMonitorOptions): Promise<void> {
  const { sock, nsFd } = openSocketIn(libc, opts.netns ?? "", {
    groups: RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE |
      (opts.onLinkEvent
        ? RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
          RTMGRP_IPV4_NETCONF | RTMGRP_IPV6_NETCONF
        : 0),
    rcvbuf: 1 << 20,
  });
  if (nsFd >= 0) libc.symbols.close(nsFd);
  await pollMonitor(libc, sock, {
    signal: opts.signal,
    onOverflow: opts.onOverflow,
    what: "route",
    subject: "route",
    onMessage: (m) => {
      const other = OTHER[m.type];
      if (other) {
        opts.onLinkEvent?.({ ...other, ifindex: ifindexOf(m.body, m.type) });
        return;
      }
      if (m.type !== RTM_NEWROUTE && m.type !== RTM_DELROUTE) return;
      const route = decodeRoute(m);
      if (route) opts.onEvent({ kind: m.type === RTM_DELROUTE ? "delete" : "add", route });
    },
  });
}
