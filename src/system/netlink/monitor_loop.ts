/**
 * The wait loop every netlink monitor shares: a `nonblocking` FFI poll (a
 * worker thread) on the socket and an eventfd, so the JS thread stays free
 * and an abort wakes the wait at once instead of at the next timeout.
 * @module
 */
import { Errno, kernelError, type Subject } from "./errno.ts";
import { errno, type Libc } from "./libc.ts";
import type { NlMsg } from "./message.ts";
import type { NetlinkSocket } from "./socket.ts";

const EFD_CLOEXEC = 0x80000;
const POLLIN = 1;
/** Upper bound of one poll: a safety net should a wakeup ever be missed. */
const POLL_MS = 1000;

/** What `pollMonitor` needs. */
export interface PollMonitorOptions {
  signal: AbortSignal;
  /** Every message received, in order. */
  onMessage: (m: NlMsg) => void;
  /** The kernel dropped messages (ENOBUFS). */
  onOverflow?: () => void;
  /** For error messages: "receive <what> events". */
  what: string;
  subject: Subject;
}

/**
 * Receives from `sock` until `signal` aborts; closes the socket when done
 * (also on failure). Rejects on a receive error other than EAGAIN/ENOBUFS.
 */
export async function pollMonitor(
  libc: Libc,
  sock: NetlinkSocket,
  o: PollMonitorOptions,
): Promise<void> {
  const efd = libc.symbols.eventfd(0, EFD_CLOEXEC);
  if (efd < 0) {
    const e = errno(libc);
    sock.close();
    throw kernelError({ errno: e, action: `open ${o.what} monitor eventfd`, subject: o.subject });
  }
  const one = new Uint8Array(8);
  one[0] = 1;
  const wake = () => void libc.symbols.write(efd, one, 8n);
  o.signal.addEventListener("abort", wake, { once: true });
  // struct pollfd { int fd; short events; short revents; } x 2
  const pfds = new Uint8Array(16);
  const pv = new DataView(pfds.buffer);
  pv.setInt32(0, sock.fd, true);
  pv.setInt16(4, POLLIN, true);
  pv.setInt32(8, efd, true);
  pv.setInt16(12, POLLIN, true);
  try {
    while (!o.signal.aborted) {
      pv.setInt16(6, 0, true);
      pv.setInt16(14, 0, true);
      await libc.symbols.poll(pfds, 2n, POLL_MS);
      if (o.signal.aborted) break;
      if (!(pv.getInt16(6, true) & POLLIN)) continue;
      for (;;) {
        const n = sock.recvRaw(true);
        if (n === -Errno.EAGAIN) break;
        if (n === -Errno.ENOBUFS) {
          o.onOverflow?.();
          continue;
        }
        if (n < 0) {
          throw kernelError({ errno: -n, action: `receive ${o.what} events`, subject: o.subject });
        }
        for (const m of sock.messages(n)) o.onMessage(m);
      }
    }
  } finally {
    o.signal.removeEventListener("abort", wake);
    sock.close();
    libc.symbols.close(efd);
  }
}
