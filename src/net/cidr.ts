/**
 * CIDR blocks on top of `ip-cidr`: parse once into a plain record (network,
 * last address, size, prefix) so callers never redo prefix math, and ask the
 * library for membership and the n-th address.
 * @module
 */
import IPCIDR from "ip-cidr";
import {
  AddressError,
  bigIntToIp,
  type Family,
  familyBits,
  type LibAddress,
  tryParseIp,
} from "./address.ts";

/** A parsed CIDR block. Addresses are canonical text; the bigints mirror them. */
export interface Cidr {
  family: Family;
  prefix: number;
  /** The address as written, canonical ("10.22.0.5" for "10.22.0.5/24"). */
  address: string;
  /** First address of the block ("10.22.0.0"). */
  network: string;
  /** Last address of the block (the IPv4 broadcast, "10.22.0.255"). */
  last: string;
  /** Canonical block text with host bits cleared ("10.22.0.0/24"). */
  text: string;
  /** Number of addresses in the block. */
  size: bigint;
  networkValue: bigint;
  lastValue: bigint;
}

/** Parses "a.b.c.d/n" or "v6/n"; undefined when the text is not a CIDR. */
export function tryParseCidr(text: string): Cidr | undefined {
  if (typeof text !== "string") return undefined;
  const slash = text.indexOf("/");
  if (slash <= 0 || !/^(0|[1-9]\d{0,2})$/.test(text.slice(slash + 1))) return undefined;
  let block: IPCIDR;
  try {
    block = new IPCIDR(text);
  } catch {
    return undefined;
  }
  const lib = block.address as LibAddress;
  if (lib.zone) return undefined;
  const family: Family = lib.v4 ? 4 : 6;
  const prefix = Number(text.slice(slash + 1));
  // ip-cidr turns "::ffff:a.b.c.d/n" into IPv4; refuse a prefix that no longer fits.
  if (prefix > familyBits(family) || text.includes(":") !== (family === 6)) return undefined;
  const [first, last] = block.toRange({ type: "bigInteger" }) as [bigint, bigint];
  const network = bigIntToIp(family, first);
  return {
    family,
    prefix,
    address: lib.correctForm(),
    network,
    last: bigIntToIp(family, last),
    text: `${network}/${prefix}`,
    size: last - first + 1n,
    networkValue: first,
    lastValue: last,
  };
}

/** Parses a CIDR or throws an `AddressError`. */
export function parseCidr(text: string): Cidr {
  const c = tryParseCidr(text);
  if (!c) {
    throw new AddressError(
      `Cannot parse CIDR: ${JSON.stringify(text)} is not an address/prefix`,
      String(text),
    );
  }
  return c;
}

/** True when `text` is a valid CIDR. */
export function isCidr(text: string): boolean {
  return tryParseCidr(text) !== undefined;
}

/** Canonical block text ("10.22.0.5/24" -> "10.22.0.0/24"); throws on invalid text. */
export function normalizeCidr(text: string): string {
  return parseCidr(text).text;
}

/** True when the address `ip` lies in `cidr` (same family, inside the block). */
export function cidrContains(cidr: Cidr | string, ip: string): boolean {
  const c = typeof cidr === "string" ? parseCidr(cidr) : cidr;
  const p = tryParseIp(ip);
  if (!p || p.family !== c.family) return false;
  return new IPCIDR(c.text).contains(p.text);
}

/** True when the blocks share at least one address. */
export function cidrsOverlap(a: Cidr | string, b: Cidr | string): boolean {
  const ca = typeof a === "string" ? parseCidr(a) : a;
  const cb = typeof b === "string" ? parseCidr(b) : b;
  if (ca.family !== cb.family) return false;
  return ca.networkValue <= cb.lastValue && cb.networkValue <= ca.lastValue;
}

/**
 * The n-th address of a block: 0 is the network address, 1 the first host;
 * negative counts from the end (-1 is the last address). Undefined outside.
 */
export function nthAddress(cidr: Cidr | string, n: number | bigint): string | undefined {
  const c = typeof cidr === "string" ? parseCidr(cidr) : cidr;
  let i = BigInt(n);
  if (i < 0n) i += c.size;
  if (i < 0n || i >= c.size) return undefined;
  const [text] = new IPCIDR(c.text).toArray({ from: i, limit: 1 });
  return text === undefined ? undefined : tryParseIp(text)?.text;
}
