/**
 * The route monitor: a netlink socket subscribed to IPv4/IPv6 route changes.
 * Waiting happens in a `nonblocking` FFI poll (a worker thread), so the JS
 * thread stays free; an eventfd in the same poll set wakes it at once on
 * abort, so the monitor stops promptly instead of at the next timeout.
 * @module
 */

import { RTM_DELROUTE, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE } from "./constants.ts";
import { Errno, kernelError } from "./errno.ts";
import { errno, type Libc } from "./libc.ts";
import { decodeRoute } from "./route_codec.ts";
import { openSocketIn } from "./socket.ts";
import type { RouteMonitorOptions } from "./types.ts";

const EFD_CLOEXEC = 0x80000;
const POLLIN = 1;
/** Upper bound of one poll: a safety net should a wakeup ever be missed. */
const POLL_MS = 1000;

/** See Netlink.monitorRoutes. */
export async function monitorRoutes(libc: Libc, opts: RouteMonitorOptions): Promise<void> {
  const { sock, nsFd } = openSocketIn(libc, opts.netns ?? "", {
    groups: RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE,
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
