/**
 * Sysctl access through /proc/sys with synchronous libc calls: they run on the
 * calling thread, so after a setns of that thread they read and write the
 * sysctls of the target netns (the /proc/sys/net tree follows the thread's
 * netns at open time).
 * @module
 */

import { describeErrno, Errno } from "./errno.ts";
import { cString, errno, type Libc } from "./libc.ts";
import { NetlinkError, NotFoundError } from "./errors.ts";

const KEY = /^[A-Za-z0-9_\-.]+(\/[A-Za-z0-9_\-.]+)*$/;

/**
 * The /proc/sys path of a slash-separated key; throws NetlinkError(EINVAL)
 * for keys that could escape /proc/sys ("..", absolute, empty parts).
 */
export function sysctlPath(key: string): string {
  if (!KEY.test(key) || key.split("/").some((p) => p === "." || p === "..")) {
    throw new NetlinkError(Errno.EINVAL, `Cannot use sysctl "${key}": invalid key`);
  }
  return `/proc/sys/${key}`;
}

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;

function fail(libc: Libc, action: string): NetlinkError {
  const code = errno(libc);
  const why = describeErrno(code);
  if (code === Errno.ENOENT) {
    return new NotFoundError(code, `Cannot ${action}: no such sysctl (ENOENT)`);
  }
  return new NetlinkError(code, `Cannot ${action}: ${why}`);
}

/**
 * Reads a sysctl in the calling thread's netns; trailing newline removed.
 * Goes through libc, not Deno's file API: Deno demands --allow-all for
 * /proc/sys, and the programs run with narrow permissions.
 */
export function readSysctl(libc: Libc, key: string): string {
  const action = `read sysctl ${key}`;
  const fd = libc.symbols.open(cString(sysctlPath(key)), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(libc, action);
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = Number(libc.symbols.read(fd, buf, BigInt(buf.length)));
      if (n < 0) throw fail(libc, action);
      if (n === 0) break;
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.length;
    }
    return new TextDecoder().decode(all).replace(/\n$/, "");
  } finally {
    libc.symbols.close(fd);
  }
}

/** Writes a sysctl in the calling thread's netns (no create, no truncate), through libc. */
export function writeSysctl(libc: Libc, key: string, value: string): void {
  const action = `write sysctl ${key}=${value}`;
  const fd = libc.symbols.open(cString(sysctlPath(key)), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw fail(libc, action);
  try {
    const bytes = new TextEncoder().encode(value);
    const n = Number(libc.symbols.write(fd, bytes, BigInt(bytes.length)));
    if (n < 0) throw fail(libc, action);
    if (n !== bytes.length) {
      throw new NetlinkError(5, `Cannot ${action}: short write (${n} bytes)`);
    }
  } finally {
    libc.symbols.close(fd);
  }
}
