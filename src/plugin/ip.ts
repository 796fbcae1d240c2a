/**
 * The few address helpers the plugin needs on top of src/net (which parses
 * with its own strict parsers): canonical text
 * for exact comparisons, splitting "address/prefix", and a subnet's first
 * host. Pure functions.
 * @module
 */
import { familyBits, familyOf, nthAddress, tryParseCidr, tryParseIp } from "../net/mod.ts";

export { familyOf };

/** Canonical text of an address ("fd00:0::01" -> "fd00::1"); unparsable text is lower-cased. */
export function canonicalIp(s: string): string {
  return tryParseIp(s)?.text ?? s.toLowerCase();
}

/** Canonical "address/prefix" keeping the host part ("fd00:0::5/64" -> "fd00::5/64"). */
export function canonicalCidr(s: string): string {
  const c = tryParseCidr(s);
  return c ? `${c.address}/${c.prefix}` : s.toLowerCase();
}

/** Splits "10.0.0.5/24" into ["10.0.0.5", 24]; a bare address gets the host prefix. */
export function splitCidr(s: string): [string, number] {
  const slash = s.indexOf("/");
  if (slash < 0) return [s, familyBits(familyOf(s))];
  return [s.slice(0, slash), Number(s.slice(slash + 1))];
}

/** The first host address of the subnet `cidr` lies in, the conventional gateway. */
export function firstHost(cidr: string): string {
  const first = nthAddress(cidr, 1);
  if (first === undefined) throw new Error(`Cannot find a first host: ${cidr} is too small`);
  return first;
}
