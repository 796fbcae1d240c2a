/**
 * Single IP addresses: parse, normalise, compare, step. Parsing (validation)
 * goes through `ip-cidr` (and the `ip-address` classes it hands out), and so
 * does IPv6 formatting, so the canonical text is the library's RFC 5952 form
 * for IPv6 and dotted quad for IPv4 — the same text Go's `net.IP.String()`
 * writes, which host-local uses as the file name of a reservation.
 *
 * Addresses are strings at the API. The `bigint` helpers exist for the
 * allocator, which walks ranges numerically and formats only what it keeps.
 * The numbers are native BigInts read off the library's parse: the library's
 * own jsbn conversions are never on the per-pod path (see `libValue`).
 * @module
 */
import IPCIDR from "ip-cidr";
import type { Family } from "../system/netlink/types.ts";

export type { Family };

/** An address or prefix text that is not a valid IPv4/IPv6 value. */
export class AddressError extends Error {
  /** The text that was rejected. */
  readonly input: string;
  constructor(msg: string, input: string) {
    super(msg);
    this.name = "AddressError";
    this.input = input;
  }
}

/** A parsed address: family, numeric value and canonical text. */
export interface ParsedIp {
  family: Family;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
  /** Canonical text ("10.0.0.1", "fd00::1"). */
  text: string;
}

/**
 * What `ip-address` hands back; typed loosely because ip-cidr re-exports it
 * only as a type. `parsedAddress` is the library's parse of the text: four
 * decimal octets (IPv4) or eight hex groups with `::` and embedded IPv4
 * already expanded (IPv6).
 */
export type LibAddress = IPCIDR.Address & {
  correctForm(): string;
  parsedAddress: string[];
  v4: boolean;
  zone?: string;
  parsedSubnet: string;
};

/** Bits of an address of `family`. */
export function familyBits(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The largest address value of `family`. */
export function maxAddressValue(family: Family): bigint {
  return (1n << BigInt(familyBits(family))) - 1n;
}

/** Parses with ip-cidr; undefined when the text is not an address (with or without prefix). */
export function libParse(text: string): LibAddress | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  try {
    const a = IPCIDR.createAddress(text) as LibAddress;
    if (a.zone) return undefined; // "fe80::1%eth0": a zone is not part of an address here
    return a;
  } catch {
    return undefined;
  }
}

/**
 * The numeric value of a parsed address, from the groups the library parsed.
 * Native BigInt instead of the library's `bigInteger()`: that goes through
 * jsbn and sprintf, whose first use costs a fresh plugin process ~2 ms of
 * compilation for a number we can read off the parse directly.
 */
export function libValue(a: LibAddress): bigint {
  const g = a.parsedAddress;
  if (g.length === 4) {
    return BigInt(
      parseInt(g[0]!, 10) * 0x1000000 + parseInt(g[1]!, 10) * 0x10000 +
        parseInt(g[2]!, 10) * 0x100 + parseInt(g[3]!, 10),
    );
  }
  let hex = "0x";
  for (const group of g) hex += group.padStart(4, "0");
  return BigInt(hex);
}

function libToParsed(a: LibAddress): ParsedIp {
  return { family: a.v4 ? 4 : 6, value: libValue(a), text: a.correctForm() };
}

/** Parses a plain address (no prefix); undefined when it is not one. */
export function tryParseIp(text: string): ParsedIp | undefined {
  if (typeof text !== "string" || text.includes("/")) return undefined;
  const a = libParse(text);
  return a ? libToParsed(a) : undefined;
}

/** Parses a plain address (no prefix) or throws an `AddressError`. */
export function parseIp(text: string): ParsedIp {
  const p = tryParseIp(text);
  if (!p) {
    throw new AddressError(
      `Cannot parse IP address: ${JSON.stringify(text)} is not an IPv4 or IPv6 address`,
      String(text),
    );
  }
  return p;
}

/** True when `text` is a plain IPv4 or IPv6 address. */
export function isIp(text: string): boolean {
  return tryParseIp(text) !== undefined;
}

/** Family (4 or 6) of an address; throws on invalid text. */
export function ipFamily(text: string): Family {
  return parseIp(text).family;
}

/** Canonical text of an address ("FD00:0::1" -> "fd00::1"); throws on invalid text. */
export function normalizeIp(text: string): string {
  return parseIp(text).text;
}

/** Numeric value of an address; throws on invalid text. */
export function ipToBigInt(text: string): bigint {
  return parseIp(text).value;
}

/**
 * Canonical text of the address `value` in `family`. IPv4 is the dotted quad
 * (what the library prints too); IPv6 hands the full eight-group text to the
 * library, whose `correctForm` does the RFC 5952 compression.
 */
export function bigIntToIp(family: Family, value: bigint): string {
  if (value < 0n || value > maxAddressValue(family)) {
    throw new AddressError(
      `Cannot format IPv${family} address: ${value} is out of range`,
      String(value),
    );
  }
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const hex = value.toString(16).padStart(32, "0");
  let full = hex.slice(0, 4);
  for (let i = 4; i < 32; i += 4) full += ":" + hex.slice(i, i + 4);
  return (IPCIDR.createAddress(full) as LibAddress).correctForm();
}

/**
 * Orders two addresses: IPv4 before IPv6, then numerically. Returns <0, 0, >0.
 * Throws on invalid text.
 */
export function compareIps(a: string, b: string): number {
  const pa = parseIp(a);
  const pb = parseIp(b);
  if (pa.family !== pb.family) return pa.family - pb.family;
  return pa.value < pb.value ? -1 : pa.value > pb.value ? 1 : 0;
}

/** True when both texts denote the same address ("fd00::1" equals "FD00:0::1"). */
export function ipEquals(a: string, b: string): boolean {
  const pa = tryParseIp(a);
  const pb = tryParseIp(b);
  return pa !== undefined && pb !== undefined && pa.family === pb.family &&
    pa.value === pb.value;
}

/** The address after `ip`, or undefined past the family's last address. */
export function nextIp(ip: string): string | undefined {
  const p = parseIp(ip);
  return p.value === maxAddressValue(p.family) ? undefined : bigIntToIp(p.family, p.value + 1n);
}

/** The address before `ip`, or undefined before the family's first address. */
export function prevIp(ip: string): string | undefined {
  const p = parseIp(ip);
  return p.value === 0n ? undefined : bigIntToIp(p.family, p.value - 1n);
}

/**
 * Strips an optional "/prefix" from an address ("10.0.0.5/24" -> "10.0.0.5")
 * and normalises it; throws on invalid text. Runtime-requested IPs come in
 * both forms.
 */
export function addressOf(text: string): string {
  if (typeof text !== "string") return parseIp(text).text;
  const slash = text.indexOf("/");
  if (slash < 0) return normalizeIp(text);
  const a = libParse(text);
  if (!a || a.parsedSubnet === "") {
    throw new AddressError(`Cannot parse IP address: ${JSON.stringify(text)} is invalid`, text);
  }
  return normalizeIp(text.slice(0, slash));
}
