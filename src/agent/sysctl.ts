/**
 * Sysctl access for the agent: through the netlink handle (/proc/sys of its
 * netns) and, when Deno refuses /proc/sys (it asks for --allow-all, which the
 * bundle's narrow permissions do not grant), through the `sysctl` program
 * with an argv array. The agent runs inside the node's netns, so both act on
 * that netns only.
 * @module
 */
import type { Exec } from "../system/exec.ts";
import type { NetlinkHandle } from "../system/netlink/types.ts";

/** Read and write one sysctl key ("net/ipv4/ip_forward"). */
export interface SysctlAccess {
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

function refusedByDeno(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof Deno.errors.NotCapable || /Requires all access/.test(c.message)) return true;
  }
  return false;
}

/** The handle's sysctls, falling back to `sysctl` via `exec` when Deno refuses /proc/sys. */
export function sysctlAccess(handle: NetlinkHandle, exec?: Exec): SysctlAccess {
  const viaExec = async (argv: string[]): Promise<string> => {
    if (!exec) throw new Error(`Cannot run ${argv.join(" ")}: no process runner`);
    const r = await exec.run(argv, { timeoutMs: 5_000 });
    if (r.code !== 0) throw new Error(`Cannot run ${argv.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  return {
    async get(key) {
      try {
        return handle.getSysctl(key).trim();
      } catch (e) {
        if (!refusedByDeno(e)) throw e;
        return await viaExec(["sysctl", "-n", key]);
      }
    },
    async set(key, value) {
      try {
        handle.setSysctl(key, value);
      } catch (e) {
        if (!refusedByDeno(e)) throw e;
        await viaExec(["sysctl", "-q", "-w", `${key}=${value}`]);
      }
    },
  };
}
