/**
 * The route monitor: a netlink socket subscribed to IPv4/IPv6 route changes.
 * Waiting happens in a `nonblocking` FFI poll (a worker thread), so the JS
 * thread stays free; an eventfd in the same poll set wakes it at once on
 * abort, so the monitor stops promptly instead of at the next timeout.
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
import { Errno, kernelError } from "./errno.ts";
import { errno, type Libc } from "./libc.ts";
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

const EFD_CLOEXEC = 0x80000;
const POLLIN = 1;
/** Upper bound of one poll: a safety net should a wakeup ever be missed. */
const POLL_MS = 1000;

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
  const efd = libc.symbols.eventfd(0, EFD_CLOEXEC);
  if (efd < 0) {
    const e = errno(libc);
    sock.close();
    throw kernelError({ errno: e, action: "open route monitor eventfd", subject: "route" });
  }
  const one = new Uint8Array(8);
  one[0] = 1;
  const wake = () => void libc.symbols.write(efd, one, 8n);
  opts.signal.addEventListener("abort", wake, { once: true });
  // struct pollfd { int fd; short events; short revents; } x 2
  const pfds = new Uint8Array(16);
  const pv = new DataView(pfds.buffer);
  pv.setInt32(0, sock.fd, true);
  pv.setInt16(4, POLLIN, true);
  pv.setInt32(8, efd, true);
  pv.setInt16(12, POLLIN, true);
  try {
    while (!opts.signal.aborted) {
      pv.setInt16(6, 0, true);
      pv.setInt16(14, 0, true);
      await libc.symbols.poll(pfds, 2n, POLL_MS);
      if (opts.signal.aborted) break;
      if (!(pv.getInt16(6, true) & POLLIN)) continue;
      for (;;) {
        const n = sock.recvRaw(true);
        if (n === -Errno.EAGAIN) break;
        if (n === -Errno.ENOBUFS) {
          opts.onOverflow?.();
          continue;
        }
        if (n < 0) {
          throw kernelError({ errno: -n, action: "receive route events", subject: "route" });
        }
        for (const m of sock.messages(n)) {
          const other = OTHER[m.type];
          if (other) {
            opts.onLinkEvent?.({ ...other, ifindex: ifindexOf(m.body, m.type) });
            continue;
          }
          if (m.type !== RTM_NEWROUTE && m.type !== RTM_DELROUTE) continue;
          const route = decodeRoute(m);
          if (route) opts.onEvent({ kind: m.type === RTM_DELROUTE ? "delete" : "add", route });
        }
      }
    }
  } finally {
    opts.signal.removeEventListener("abort", wake);
    sock.close();
    libc.symbols.close(efd);
  }
}
