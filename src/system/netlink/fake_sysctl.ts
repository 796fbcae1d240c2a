/**
 * Sysctls of the fake: per-netns values, with the kernel's defaults for the
 * per-interface keys hostgate touches, so a test that expects a change can
 * fail when the change was never made.
 * @module
 */

import { Errno } from "./errno.ts";
import { NetlinkError, NotFoundError } from "./errors.ts";
import type { FakeNs } from "./fake_world.ts";
import { sysctlPath } from "./sysctl.ts";

/** Kernel defaults of net/ipv{4,6}/conf/<if>/<leaf>; other leaves read "0". */
const CONF_DEFAULTS: Record<string, string> = {
  accept_dad: "1",
  accept_ra: "1",
  autoconf: "1",
  dad_transmits: "1",
  mtu: "1500",
};

/** Global keys every fake netns has. */
const GLOBALS: Record<string, string> = {
  "net/ipv4/ip_forward": "0",
  "net/ipv4/ip_nonlocal_bind": "0",
  "net/ipv6/ip_nonlocal_bind": "0",
};

const CONF = /^net\/ipv[46]\/conf\/([^/]+)\/([^/]+)$/;

function builtin(ns: FakeNs, key: string): string | undefined {
  if (key in GLOBALS) return GLOBALS[key];
  const m = CONF.exec(key);
  if (!m) return undefined;
  const [, dev, leaf] = m;
  const known = dev === "all" || dev === "default" ||
    [...ns.links.values()].some((l) => l.name === dev);
  return known ? CONF_DEFAULTS[leaf!] ?? "0" : undefined;
}

function missing(key: string, verb: string): NotFoundError {
  return new NotFoundError(Errno.ENOENT, `Cannot ${verb} sysctl ${key}: no such sysctl (ENOENT)`);
}

/** Reads a key: written/seeded value, else the built-in default, else ENOENT. */
export function fakeGetSysctl(ns: FakeNs, key: string): string {
  sysctlPath(key);
  const v = ns.sysctls.get(key) ?? builtin(ns, key);
  if (v === undefined) throw missing(key, "read");
  return v;
}

/** Writes an existing key; numeric keys refuse non-numbers with EINVAL. */
export function fakeSetSysctl(ns: FakeNs, key: string, value: string): void {
  sysctlPath(key);
  const current = ns.sysctls.get(key) ?? builtin(ns, key);
  if (current === undefined) throw missing(key, `write ${value} to`);
  const numeric = /^-?\d+(\s+-?\d+)*$/;
  if (numeric.test(current) && !numeric.test(value.trim())) {
    throw new NetlinkError(
      Errno.EINVAL,
      `Cannot write sysctl ${key}=${value}: invalid argument (EINVAL)`,
    );
  }
  ns.sysctls.set(key, value.trim());
}
