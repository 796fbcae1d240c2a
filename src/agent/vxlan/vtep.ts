/**
 * The small pure facts of the VXLAN overlay: which address and MAC a node's
 * tunnel endpoint has, and what MTU pods get. The VTEP address is the pod
 * subnet's network address (flannel's choice: it needs no allocation and is
 * unique as long as subnets are). The MAC is random per node (a MAC derived
 * from the address would let anyone who knows a subnet predict, and forge,
 * its tunnel endpoint): generated once, kept as long as the device lives
 * (read back from it after an agent restart) and published with the node's
 * datastore entry, which is where peers take it from.
 * @module
 */
import type { Vtep } from "../../datastore/mod.ts";
import { canonIp, cidrContainsIp, familyOf, isCidr, isIp, normalizeCidr } from "../../net/mod.ts";
import type { Backend } from "../cli/mod.ts";

/** Bytes VXLAN adds over IPv4: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/** The MTU assumed for an uplink whose MTU is unknown: plain Ethernet. */
export const DEFAULT_UPLINK_MTU = 1500;

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
 * A fresh random VTEP MAC: locally administered (0x02 bit set) and unicast
 * (0x01 bit clear), never all-zero. `bytes` is for tests; crypto random otherwise.
 */
export function randomVtepMac(
  bytes: Uint8Array = crypto.getRandomValues(new Uint8Array(6)),
): string {
  if (bytes.length < 6) throw new Error(`Cannot make a MAC: ${bytes.length} random bytes, need 6`);
  const b = [...bytes.slice(0, 6)];
  b[0] = (b[0]! & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** True when `mac` can be a VTEP MAC: a MAC, unicast, not all-zero. */
export function validVtepMac(mac: string | undefined): boolean {
  const m = mac === undefined ? undefined : canonMac(mac);
  return m !== undefined && (parseInt(m.slice(0, 2), 16) & 1) === 0 && m !== "00:00:00:00:00:00";
}

/**
 * The MAC this node's VTEP keeps: the one on the existing device (it survives
 * agent restarts), else the one this agent already announced, else a new
 * random one. Invalid candidates are skipped.
 */
export function pickVtepMac(
  o: { device?: string; announced?: string; random?: () => string },
): string {
  for (const m of [o.device, o.announced]) if (validVtepMac(m)) return canonMac(m!)!;
  return (o.random ?? randomVtepMac)();
}

/** This node's VTEP from its pod subnets and its MAC: the IPv4 subnet's network address. */
export function vtepFor(podCidrs: readonly string[], mac: string): Vtep | undefined {
  const v4 = podCidrs.find((c) => familyOf(c) === 4 && isCidr(c));
  if (v4 === undefined) return undefined;
  const ip = normalizeCidr(v4).split("/")[0]!;
  return { ip, mac: canonMac(mac) ?? mac };
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
