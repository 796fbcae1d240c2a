/**
 * CIDR blocks: the text is parsed and validated once (address.ts's parsers,
 * a strict decimal prefix) into a plain record (network, last address, size,
 * prefix) so callers never redo prefix math; membership and the n-th address
 * are comparisons and additions on the record's native BigInts. Host bits may
 * be set ("10.22.0.5/24" is the block 10.22.0.0/24 written from one of its
 * addresses); `address` keeps what was written.
 * @module
 */
import {
  AddressError,
  bigIntToIp,
  CHAR_0,
  CHAR_9,
  type Family,
  familyBits,
  fastV4,
  MEMO_ENTRIES,
  ParseMemo,
  parseV6Ip,
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
  if (slash <= 0) return undefined;
  const prefix = prefixOf(text, slash);
  if (prefix < 0) return undefined;
  const v4 = fastV4(text, 0, slash);
  if (v4 >= 0) {
    return prefix > 32 ? undefined : block(4, BigInt(v4), prefix, text.slice(0, slash));
  }
  // Not a dotted quad: IPv6 or nothing.
  if (text.lastIndexOf(":", slash) < 0) return undefined;
  return CIDR_MEMO.get(text, slowParseCidr);
}

/** Memoised IPv6 parses. */
const CIDR_MEMO = new ParseMemo<Cidr>(MEMO_ENTRIES);

/** Most decimal digits of a prefix length ("128"). */
const MAX_PREFIX_DIGITS = 3;

/** The decimal prefix after the slash (no sign, no leading zero, at most 3 digits), or -1. */
function prefixOf(text: string, slash: number): number {
  const len = text.length - slash - 1;
  if (len < 1 || len > MAX_PREFIX_DIGITS || (len > 1 && text.charCodeAt(slash + 1) === CHAR_0)) {
    return -1;
  }
  let prefix = 0;
  for (let i = slash + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) return -1;
    prefix = prefix * 10 + (c - CHAR_0);
  }
  return prefix;
}

function slowParseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const p = parseV6Ip(text, 0, slash);
  // IPv6 with embedded IPv4 ("::ffff:a.b.c.d/n") is refused as a block, as it always was.
  if (!p || p.embeddedV4) return undefined;
  const prefix = prefixOf(text, slash);
  if (prefix > familyBits(6)) return undefined;
  return block(6, p.value, prefix, p.text);
}

/** The block record of `value`/`prefix`; `address` is the canonical text of `value`. */
function block(family: Family, value: bigint, prefix: number, address: string): Cidr {
  const host = (1n << BigInt(familyBits(family) - prefix)) - 1n;
  const first = value - (value & host);
  const last = first + host;
  const network = first === value ? address : bigIntToIp(family, first);
  return {
    family,
    prefix,
    address,
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
  // The input itself when already canonical (a kept route shares the datastore's string).
  const canon = parseCidr(text).text;
  return canon === text ? text : canon;
}

/**
 * True when the address `ip` lies in `cidr` (same family, inside the block).
 * For a block inside a block use `cidrCovers`.
 */
export function cidrContainsIp(cidr: Cidr | string, ip: string): boolean {
  const c = typeof cidr === "string" ? parseCidr(cidr) : cidr;
  const p = tryParseIp(ip);
  return p !== undefined && p.family === c.family && p.value >= c.networkValue &&
    p.value <= c.lastValue;
}

/**
 * True when the block `inner` lies entirely inside `outer` (same family).
 * For an address inside a block use `cidrContainsIp`.
 */
export function cidrCovers(outer: Cidr | string, inner: Cidr | string): boolean {
  const o = typeof outer === "string" ? parseCidr(outer) : outer;
  const i = typeof inner === "string" ? parseCidr(inner) : inner;
  return o.family === i.family && o.networkValue <= i.networkValue &&
    i.lastValue <= o.lastValue;
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
  return bigIntToIp(c.family, c.networkValue + i);
}
