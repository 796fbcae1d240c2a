/**
 * Sysctl access for the agent, through the netlink handle: /proc/sys of the
 * handle's netns, read and written with libc calls on the calling thread. The
 * agent runs inside the node's netns, so it acts on that netns only.
 * @module
 */
import type { NetlinkHandle } from "../../system/netlink/types.ts";

/** Read and write one sysctl key ("net/ipv4/ip_forward"). */
export interface SysctlAccess {
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

/** The handle's sysctls behind the agent's async interface. */
export function sysctlAccess(handle: NetlinkHandle): SysctlAccess {
  return {
    get: (key) => Promise.resolve().then(() => handle.getSysctl(key).trim()),
    set: (key, value) => Promise.resolve().then(() => handle.setSysctl(key, value)),
  };
}
