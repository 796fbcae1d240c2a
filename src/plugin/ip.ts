/**
 * The few address helpers the plugin needs, as thin wrappers over src/net
 * (which does the CIDR math with ip-cidr): validate, canonical text for
 * exact comparisons, family, and a subnet's first host. Pure functions.
 * @module
 */
import { isIp, nthAddress, tryParseCidr, tryParseIp } from "../net/mod.ts";
import type { Family } from "../system/netlink/types.ts";

/** True for a bare IPv4 or IPv6 address (no prefix). */
export function isIpAddress(s: string): boolean {
  return isIp(s);
}

/** Family of an address or CIDR, by its spelling. */
export function familyOf(s: string): Family {
  return s.includes(":") ? 6 : 4;
}

/** A dotted quad already in canonical form (no leading zeros): the common case, parsed for free. */
const CANONICAL_V4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Canonical text of an address ("fd00:0::01" -> "fd00::1"); unparsable text is lower-cased. */
export function canonicalIp(s: string): string {
  if (CANONICAL_V4.test(s)) return s;
  return tryParseIp(s)?.text ?? s.toLowerCase();
}

/** Canonical "address/prefix" keeping the host part ("fd00:0::5/64" -> "fd00::5/64"). */
export function canonicalCidr(s: string): string {
  const slash = s.indexOf("/");
  const prefix = s.slice(slash + 1);
  if (slash > 0 && CANONICAL_V4.test(s.slice(0, slash)) && /^(?:3[0-2]|[12]?\d)$/.test(prefix)) {
    return s;
  }
  const c = tryParseCidr(s);
  return c ? `${c.address}/${c.prefix}` : s.toLowerCase();
}

/** Splits "10.0.0.5/24" into ["10.0.0.5", 24]; a bare address gets the host prefix. */
export function splitCidr(s: string): [string, number] {
  const slash = s.indexOf("/");
  if (slash < 0) return [s, familyOf(s) === 4 ? 32 : 128];
  return [s.slice(0, slash), Number(s.slice(slash + 1))];
}

/** The first host address of the subnet `cidr` lies in, the conventional gateway. */
export function firstHost(cidr: string): string {
  const first = nthAddress(cidr, 1);
  if (first === undefined) throw new Error(`Cannot find a first host: ${cidr} is too small`);
  return first;
}
