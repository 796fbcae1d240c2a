/**
 * Switching the calling thread into another network namespace for a moment.
 * A netlink socket (and a /proc/sys file) belongs to the netns of the thread
 * that created (opened) it, so we switch, create, and switch back — all
 * synchronously, because an `await` while switched would let unrelated code
 * run inside the wrong namespace.
 * @module
 */

import { CLONE_NEWNET, O_CLOEXEC, O_RDONLY } from "./constants.ts";
import { Errno, kernelError } from "./errno.ts";
import { NetlinkError, NoSuchNetnsError } from "./errors.ts";
import { cString, errno, type Libc } from "./libc.ts";

/** Opens a netns file (e.g. /run/netns/x); NoSuchNetnsError when it is missing. */
export function openNetnsFd(libc: Libc, path: string): number {
  const fd = libc.symbols.open(cString(path), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  const e = errno(libc);
  if (e === 20 /* ENOTDIR */) {
    throw new NoSuchNetnsError(e, `Cannot open netns ${path}: not a directory (ENOTDIR)`);
  }
  throw kernelError({ errno: e, action: `open netns ${path}`, subject: "netns" });
}

function enter(libc: Libc, fd: number, path: string): void {
  if (libc.symbols.setns(fd, CLONE_NEWNET) === 0) return;
  const e = errno(libc);
  const msg = `Cannot enter netns ${path}`;
  if (e === Errno.EINVAL) {
    throw new NoSuchNetnsError(e, `${msg}: invalid argument (EINVAL): not a network namespace`);
  }
  throw kernelError({ errno: e, action: `enter netns ${path}`, subject: "netns" });
}

/**
 * Runs `fn` with the calling thread switched into the netns open as `nsFd`,
 * and always switches back. `fn` must be synchronous; a returned promise is a
 * bug and throws (its continuation would run in the original netns anyway).
 */
export function inNetns<T>(libc: Libc, target: { fd: number; path: string }, fn: () => T): T {
  const self = libc.symbols.open(cString("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    throw kernelError({ errno: errno(libc), action: "open own netns", subject: "netns" });
  }
  try {
    enter(libc, target.fd, target.path);
    try {
      const out = fn();
      if (out instanceof Promise) {
        throw new Error("Cannot run async code in another netns: the callback returned a promise");
      }
      return out;
    } finally {
      if (libc.symbols.setns(self, CLONE_NEWNET) !== 0) {
        // The thread is stranded in `target`; nothing after this is safe.
        // deno-lint-ignore no-unsafe-finally
        throw new NetlinkError(
          errno(libc),
          `Cannot switch back from netns ${target.path}: setns failed, thread stranded`,
        );
      }
    }
  } finally {
    libc.symbols.close(self);
  }
}
