/**
 * The small pure facts of the VXLAN overlay: which address and MAC a node's
 * tunnel endpoint has, and what MTU pods get. The VTEP address is the pod
 * subnet's network address (flannel's choice: it needs no allocation and is
 * unique as long as subnets are), and the MAC is derived from it, so a
 * device deleted and recreated, or a node rebooted, keeps the MAC its peers
 * already have in their FDB and neighbour tables.
 * @module
 */
import type { Vtep } from "../../datastore/mod.ts";
import { canonIp, cidrContainsIp, familyOf, isCidr, isIp, normalizeCidr } from "../../net/mod.ts";
import type { Backend } from "../cli/mod.ts";

/** Bytes VXLAN adds over IPv4: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/** The MTU assumed for an uplink whose MTU is unknown: plain Ethernet. */
export const DEFAULT_UPLINK_MTU = 1500;

/** First two bytes of every VTEP MAC: locally administered (0x02 bit), unicast. */
const VTEP_MAC_PREFIX = ["0e", "68"] as const;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** True when the backend creates the vxlan device and may tunnel to some peer. */
export function usesVxlan(backend: Backend): boolean {
  return backend !== "host-gw";
}

/** A MAC in lower case, or undefined when it is not one. */
export function canonMac(mac: string): string | undefined {
  const m = mac.trim().toLowerCase();
  return MAC.test(m) ? m : undefined;
}

/**
 * The VTEP MAC of a VTEP address: "0e:68" (locally administered, unicast)
 * followed by the four address bytes, e.g. 10.244.1.0 gives 0e:68:0a:f4:01:00.
 */
export function vtepMac(ip: string): string {
  const bytes = canonIp(ip).split(".").map((b) => Number(b).toString(16).padStart(2, "0"));
  return [...VTEP_MAC_PREFIX, ...bytes].join(":");
}

/** This node's VTEP from its pod subnets: the IPv4 subnet's network address and its MAC. */
export function vtepFor(podCidrs: readonly string[]): Vtep | undefined {
  const v4 = podCidrs.find((c) => familyOf(c) === 4 && isCidr(c));
  if (v4 === undefined) return undefined;
  const ip = normalizeCidr(v4).split("/")[0]!;
  return { ip, mac: vtepMac(ip) };
}

/**
 * A peer's VTEP in canonical form when it can be used: an IPv4 address
 * inside the peer's IPv4 pod subnet and a valid MAC; undefined otherwise.
 */
export function usableVtep(vtep: Vtep | undefined, podCidr: string): Vtep | undefined {
  if (!vtep || !isIp(vtep.ip) || familyOf(vtep.ip) !== 4) return undefined;
  const mac = canonMac(vtep.mac);
  if (mac === undefined || !cidrContainsIp(podCidr, vtep.ip)) return undefined;
  return { ip: canonIp(vtep.ip), mac };
}

/** True when two VTEPs (or their absence) are the same. */
export function sameVtep(a: Vtep | undefined, b: Vtep | undefined): boolean {
  if (!a || !b) return a === b;
  return canonIp(a.ip) === canonIp(b.ip) && canonMac(a.mac) === canonMac(b.mac);
}

/**
 * The pod MTU written into the conflist: the flag when set, else the uplink
 * MTU, minus the VXLAN overhead whenever a peer may be reached through the
 * tunnel (vxlan, and auto, since any peer may sit on another segment).
 */
export function podMtu(o: { mtu: number; backend: Backend; uplinkMtu?: number }): number {
  if (o.mtu > 0) return o.mtu;
  const uplink = o.uplinkMtu || DEFAULT_UPLINK_MTU;
  return usesVxlan(o.backend) ? uplink - VXLAN_OVERHEAD : uplink;
}
