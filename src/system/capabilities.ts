/**
 * The process's effective capabilities, by capget(2) through the process's
 * libc (system/netlink/libc.ts): Deno refuses to read /proc/self/status
 * without --allow-all, and the agent needs to know before it offers work it
 * cannot do (entering pods' network namespaces needs CAP_SYS_ADMIN).
 * @module
 */
import type { Libc } from "./netlink/libc.ts";

/** CAP_SYS_ADMIN: setns(2) into another network namespace needs it. */
export const CAP_SYS_ADMIN = 21;

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/**
 * Whether this process holds capability `cap` (bit number, < 64) in its
 * effective set. False when the call fails: the caller then does not offer
 * what needs it.
 */
export function hasEffectiveCapability(libc: Libc, cap: number): boolean {
  const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]); // version, pid 0 = self
  const data = new Uint32Array(6); // two of {effective, permitted, inheritable}
  let rc: number;
  try {
    rc = libc.symbols.capget(new Uint8Array(header.buffer), new Uint8Array(data.buffer));
  } catch {
    return false;
  }
  if (rc !== 0) return false;
  const word = data[cap < 32 ? 0 : 3]!;
  return ((word >>> (cap % 32)) & 1) === 1;
}
