/**
 * Sysctl access through /proc/sys with synchronous file calls: they run on the
 * calling thread, so after a setns of that thread they read and write the
 * sysctls of the target netns (the /proc/sys/net tree follows the thread's
 * netns at open time).
 * @module
 */

import { Errno } from "./errno.ts";
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

const CODES: Record<string, number> = {
  ENOENT: Errno.ENOENT,
  EPERM: Errno.EPERM,
  EACCES: 13,
  EINVAL: Errno.EINVAL,
  EROFS: 30,
  EBUSY: Errno.EBUSY,
  ERANGE: Errno.ERANGE,
};

function mapError(e: unknown, action: string): NetlinkError {
  if (e instanceof Deno.errors.NotFound) {
    return new NotFoundError(Errno.ENOENT, `Cannot ${action}: no such sysctl (ENOENT)`);
  }
  const code = (e as { code?: string }).code ?? "";
  const errno = CODES[code] ?? (e instanceof Deno.errors.PermissionDenied ? 13 : 5);
  const why = e instanceof Error ? e.message : String(e);
  return new NetlinkError(errno, `Cannot ${action}: ${why}`, { cause: e });
}

/** Reads a sysctl in the calling thread's netns; trailing newline removed. */
export function readSysctl(key: string): string {
  const path = sysctlPath(key);
  try {
    return Deno.readTextFileSync(path).replace(/\n$/, "");
  } catch (e) {
    throw mapError(e, `read sysctl ${key}`);
  }
}

/** Writes a sysctl in the calling thread's netns (no create, no truncate). */
export function writeSysctl(key: string, value: string): void {
  const path = sysctlPath(key);
  try {
    const f = Deno.openSync(path, { write: true });
    try {
      const bytes = new TextEncoder().encode(value);
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    } finally {
      f.close();
    }
  } catch (e) {
    throw mapError(e, `write sysctl ${key}=${value}`);
  }
}
