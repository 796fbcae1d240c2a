/**
 * Deterministic names and identities derived from an attachment, so DEL and
 * GC find what ADD made without keeping any state of their own.
 * @module
 */
import type { CniEnv } from "../cni/mod.ts";
import type { IpamOwner } from "../ipam/types.ts";
import { sha256 } from "./sha256.ts";

/** Prefix of every host-side veth hostgate creates. */
export const HOST_VETH_PREFIX = "hg";

/** Bytes of SHA-256 in a host veth name: 12 hex digits, "hg" + 12 = 14 bytes < IFNAMSIZ. */
const VETH_HASH_BYTES = 6;

/** Matches exactly the host veth names `hostVethName` produces. */
export const HOST_VETH_PATTERN = new RegExp(
  `^${HOST_VETH_PREFIX}[0-9a-f]{${2 * VETH_HASH_BYTES}}$`,
);

/**
 * The host-side veth name of (containerId, ifname): "hg" + 12 hex digits of
 * SHA-256, 14 bytes (under IFNAMSIZ), collision-free in practice (48 bits).
 * Synchronous (sha256.ts, not WebCrypto's worker-thread digest).
 */
export function hostVethName(containerId: string, ifname: string): string {
  const digest = sha256(new TextEncoder().encode(`${containerId}\n${ifname}`));
  let hex = "";
  for (let i = 0; i < VETH_HASH_BYTES; i++) hex += digest[i]!.toString(16).padStart(2, "0");
  return HOST_VETH_PREFIX + hex;
}

/** The IPAM owner of the attachment in `env` (pod name/namespace enable sticky IPs). */
export function ipamOwner(env: CniEnv): IpamOwner {
  const owner: IpamOwner = { containerId: env.containerId, ifname: env.ifname };
  if (env.args.podNamespace && env.args.podName) {
    owner.podNamespace = env.args.podNamespace;
    owner.podName = env.args.podName;
  }
  return owner;
}
