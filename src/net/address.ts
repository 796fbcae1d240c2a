/**
 * Single IP addresses: parse, normalise, compare, step. Parsing and formatting
 * go through `ip-cidr` (and the `ip-address` classes it hands out), so the
 * canonical text is the library's RFC 5952 form for IPv6 and dotted quad for
 * IPv4 — the same text Go's `net.IP.String()` writes, which host-local uses as
 * the file name of a reservation.
 *
 * Addresses are strings at the API. The `bigint` helpers exist for the
 * allocator, which walks ranges numerically and formats only what it keeps.
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

/** What `ip-address` hands back; typed loosely because ip-cidr re-exports it only as a type. */
export type LibAddress = IPCIDR.Address & {
  correctForm(): string;
  bigInteger(): { toString(radix?: number): string };
  v4: boolean;
  zone?: string;
  parsedSubnet: string;
};

interface LibAddressClass {
  fromBigInteger(n: bigint): LibAddress;
}

/**
 * The library's Address4 / Address6 class. ip-cidr exposes them only through
 * the instances it creates, so take the constructor of a probe. Per call, not
 * at module load: an IPv4-only plugin run never pays for the IPv6 parser.
 */
function addressClass(family: Family): LibAddressClass {
  return IPCIDR.createAddress(family === 4 ? "0.0.0.0" : "::")
    .constructor as unknown as LibAddressClass;
}

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

function libToParsed(a: LibAddress): ParsedIp {
  const family: Family = a.v4 ? 4 : 6;
  return {
    family,
    value: BigInt(IPCIDR.formatIP(a, { type: "bigInteger" }) as bigint),
    text: a.correctForm(),
  };
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
 * Canonical text of the address `value` in `family`. Formatting goes through the
 * library class so IPv6 compression follows RFC 5952 exactly.
 */
export function bigIntToIp(family: Family, value: bigint): string {
  if (value < 0n || value > maxAddressValue(family)) {
    throw new AddressError(
      `Cannot format IPv${family} address: ${value} is out of range`,
      String(value),
    );
  }
  return addressClass(family).fromBigInteger(value).correctForm();
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
