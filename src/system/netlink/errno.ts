/**
 * Turns a kernel errno into the typed errors of errors.ts. The class is chosen
 * by number and by what the request was about, never by message text, so the
 * real layer and the fake throw exactly the same classes.
 * @module
 */

import {
  ExistsError,
  LinkExistsError,
  LinkNotFoundError,
  NetlinkError,
  NoSuchNetnsError,
  NotFoundError,
} from "./errors.ts";

/** errno values hostgate branches on. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ENETDOWN: 100,
  ENOBUFS: 105,
  EHOSTUNREACH: 113,
} as const;

const TEXT: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  19: ["ENODEV", "no such device"],
  22: ["EINVAL", "invalid argument"],
  28: ["ENOSPC", "no space left on device"],
  34: ["ERANGE", "numerical result out of range"],
  93: ["EPROTONOSUPPORT", "protocol not supported"],
  95: ["EOPNOTSUPP", "operation not supported"],
  97: ["EAFNOSUPPORT", "address family not supported by protocol"],
  98: ["EADDRINUSE", "address already in use"],
  99: ["EADDRNOTAVAIL", "cannot assign requested address"],
  100: ["ENETDOWN", "network is down"],
  101: ["ENETUNREACH", "network is unreachable"],
  105: ["ENOBUFS", "no buffer space available"],
  113: ["EHOSTUNREACH", "no route to host"],
};

/** "file exists (EEXIST)" for an errno. */
export function describeErrno(errno: number): string {
  const t = TEXT[errno];
  return t ? `${t[1]} (${t[0]})` : `errno ${errno}`;
}

/** What a failed request was about; decides Link* vs plain error classes. */
export type Subject = "link" | "addr" | "route" | "neigh" | "fdb" | "netns" | "sysctl" | "tc";

/** Options of `kernelError`. */
export interface KernelErrorOptions {
  /** Positive errno. */
  errno: number;
  /** Completes "Cannot <action>", e.g. "add bridge hostgate0". */
  action: string;
  subject: Subject;
  /** The kernel's extended ACK message, when it sent one. */
  detail?: string;
}

/** The typed error for a failed request: `Cannot <action>: <state>`. */
export function kernelError(o: KernelErrorOptions): NetlinkError {
  const msg = `Cannot ${o.action}: ${describeErrno(o.errno)}${o.detail ? `: ${o.detail}` : ""}`;
  switch (o.errno) {
    case Errno.ENODEV:
      return new LinkNotFoundError(o.errno, msg);
    case Errno.EADDRNOTAVAIL:
      if (o.subject !== "addr") return new NetlinkError(o.errno, msg);
      return new NotFoundError(o.errno, msg);
    case Errno.ENOENT:
    case Errno.ESRCH:
      if (o.subject === "netns") return new NoSuchNetnsError(o.errno, msg);
      return new NotFoundError(o.errno, msg);
    case Errno.EEXIST:
      return o.subject === "link"
        ? new LinkExistsError(o.errno, msg)
        : new ExistsError(o.errno, msg);
    default:
      return new NetlinkError(o.errno, msg);
  }
}
