/**
 * The few address helpers the agent needs, on top of `ip-cidr`. Every address
 * and CIDR the agent compares goes through `canonCidr`/`canonIp` first, so the
 * kernel's spelling ("fd00:10::/64") and the datastore's ("fd00:0010::/64")
 * never make a correct route look wrong.
 * @module
 */
import IPCIDR from "ip-cidr";
import type { Family } from "../system/netlink/types.ts";

/** Family of an address or CIDR string. */
export function familyOf(addrOrCidr: string): Family {
  return addrOrCidr.includes(":") ? 6 : 4;
}

/** True when `cidr` parses as a CIDR ("10.0.0.0/16"). */
export function isCidr(cidr: string): boolean {
  return cidr.includes("/") && IPCIDR.isValidCIDR(cidr);
}

/** True when `ip` parses as a bare address. */
export function isIp(ip: string): boolean {
  return !ip.includes("/") && IPCIDR.isValidAddress(ip);
}

/** An address in its shortest standard form ("fd00:10::1"). */
export function canonIp(ip: string): string {
  const bare = ip.split("/")[0]!;
  const prefix = familyOf(bare) === 4 ? 32 : 128;
  return new IPCIDR(`${bare}/${prefix}`).address.correctForm();
}

/** The network of a CIDR in standard form: "10.244.1.7/24" gives "10.244.1.0/24". */
export function canonCidr(cidr: string): string {
  const c = new IPCIDR(cidr);
  return `${c.address.startAddress().correctForm()}/${c.address.subnetMask}`;
}

/** Prefix length of a CIDR. */
export function prefixLength(cidr: string): number {
  return new IPCIDR(cidr).address.subnetMask;
}

/** True when `ip` lies inside `cidr` (false across families). */
export function cidrContains(cidr: string, ip: string): boolean {
  if (familyOf(cidr) !== familyOf(ip)) return false;
  return new IPCIDR(canonCidr(cidr)).contains(canonIp(ip));
}

/** True when two CIDRs share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  if (familyOf(a) !== familyOf(b)) return false;
  const na = canonCidr(a);
  const nb = canonCidr(b);
  return cidrContains(na, nb.split("/")[0]!) || cidrContains(nb, na.split("/")[0]!);
}

/** The first usable address of a subnet with its prefix: "10.244.1.0/24" gives "10.244.1.1/24". */
export function gatewayCidr(subnet: string): string {
  const c = new IPCIDR(canonCidr(subnet));
  const [first] = c.toArray({ from: 1, limit: 1 }) as string[];
  if (first === undefined) throw new Error(`Cannot compute a gateway: ${subnet} has no address`);
  return `${canonIp(first)}/${c.address.subnetMask}`;
}
