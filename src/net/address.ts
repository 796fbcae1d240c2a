/**
 * Single IP addresses: parse, normalise, step. Parsing is the project's own
 * strict code (ipv4.ts for dotted quads, ipv6.ts for IPv6 text); the
 * canonical text is the dotted quad for IPv4 and RFC 5952 for IPv6 — the
 * same text Go's `net.IP.String()` writes, which host-local uses as the file
 * name of a reservation.
 *
 * Addresses are strings at the API. The `bigint` helpers exist for the
 * allocator, which walks ranges numerically and formats only what it keeps.
 *
 * This is the project's one address parser (the agent's 5,000-node passes,
 * the datastores and the netlink byte codec all come here), so repeated parses
 * must be cheap: a dotted quad is a char loop and IPv6 text is parsed once and
 * then answered from a small bounded memo (`ParseMemo`).
 * @module
 */
import { CHAR_0, CHAR_9, CHAR_DOT, fastV4, formatV4 } from "./ipv4.ts";
import { groupsValue, IPV6_GROUPS, parseV6 } from "./ipv6.ts";

export { CHAR_0, CHAR_9, CHAR_DOT, fastV4, formatV4 };

/**
 * An address family by its IP version. The project's one spelling of it:
 * netlink, iptables, IPAM and the agent all import it from here (src/net is
 * the bottom layer, so nothing below it has to know the OS types).
 */
export type Family = 4 | 6;

const GROUP_BITS = 16n;
const GROUP_MASK = 0xffffn;
/**
 * Entries each parse memo keeps: above a 5,000-node cluster's working set of
 * node and subnet texts, small enough (a few MiB) for the agent's heap.
 */
export const MEMO_ENTRIES = 8192;

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

/** Bits of an address of `family`. */
export function familyBits(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The largest address value of `family`. */
export function maxAddressValue(family: Family): bigint {
  return (1n << BigInt(familyBits(family))) - 1n;
}

/**
 * Family of an address or CIDR text by its spelling alone (a colon means
 * IPv6), for text that was validated before; no parse.
 */
export function familyOf(addrOrCidr: string): Family {
  return addrOrCidr.includes(":") ? 6 : 4;
}

/**
 * A bounded memo of parse results keyed by the input text. Values are frozen
 * (shared between callers); when full, the oldest half is dropped, so a
 * working set below the bound (an agent's node list) is parsed once.
 */
export class ParseMemo<T> {
  readonly #map = new Map<string, T | null>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }

  /** The memoised result of `parse(text)` (undefined results are memoised too). */
  get(text: string, parse: (text: string) => T | undefined): T | undefined {
    const hit = this.#map.get(text);
    if (hit !== undefined) return hit ?? undefined;
    const value = parse(text);
    if (this.#map.size >= this.#max) {
      let drop = this.#max >> 1;
      for (const k of this.#map.keys()) {
        this.#map.delete(k);
        if (--drop <= 0) break;
      }
    }
    this.#map.set(text, value === undefined ? null : Object.freeze(value));
    return value;
  }
}

/**
 * RFC 5952 text of eight 16-bit groups: lowercase, no leading zeros, the
 * longest run (the first on a tie) of two or more zero groups as "::".
 */
export function formatV6Groups(g: ArrayLike<number>): string {
  let best = -1, bestLen = 1;
  for (let i = 0; i < IPV6_GROUPS;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < IPV6_GROUPS && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  let out = "";
  for (let i = 0; i < IPV6_GROUPS; i++) {
    if (i === best) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (out !== "" && !out.endsWith(":")) out += ":";
    out += g[i]!.toString(16);
  }
  return out;
}

/**
 * Parses IPv6 text `text.slice(from, to)` (no prefix, no zone) into a
 * `ParsedIp`; undefined when it is not one. `embeddedV4` tells a caller that
 * refuses "::ffff:a.b.c.d" spellings (CIDR blocks) about them.
 */
export function parseV6Ip(
  text: string,
  from = 0,
  to = text.length,
): (ParsedIp & { embeddedV4: boolean }) | undefined {
  const p = parseV6(text, from, to);
  if (!p) return undefined;
  return {
    family: 6,
    value: groupsValue(p.groups),
    text: formatV6Groups(p.groups),
    embeddedV4: p.embeddedV4,
  };
}

/** Parses a plain address (no prefix); undefined when it is not one. */
export function tryParseIp(text: string): ParsedIp | undefined {
  if (typeof text !== "string") return undefined;
  const v4 = fastV4(text);
  if (v4 >= 0) return { family: 4, value: BigInt(v4), text };
  // Anything else is IPv6 or nothing: without a colon it is no address at all.
  if (!text.includes(":")) return undefined;
  return IP_MEMO.get(text, slowParseIp);
}

/** Memoised IPv6 parses. */
const IP_MEMO = new ParseMemo<ParsedIp>(MEMO_ENTRIES);

function slowParseIp(text: string): ParsedIp | undefined {
  const p = parseV6Ip(text);
  return p && { family: 6, value: p.value, text: p.text };
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

/** Canonical text of an address ("FD00:0::1" -> "fd00::1"); throws on invalid text. */
export function normalizeIp(text: string): string {
  return parseIp(text).text;
}

/** Numeric value of an address; throws on invalid text. */
export function ipToBigInt(text: string): bigint {
  return parseIp(text).value;
}

/**
 * Canonical text of the address `value` in `family`: the dotted quad, or
 * RFC 5952 text (`formatV6Groups`).
 */
export function bigIntToIp(family: Family, value: bigint): string {
  if (value < 0n || value > maxAddressValue(family)) {
    throw new AddressError(
      `Cannot format IPv${family} address: ${value} is out of range`,
      String(value),
    );
  }
  if (family === 4) return formatV4(Number(value));
  const groups = new Array<number>(IPV6_GROUPS);
  for (let i = IPV6_GROUPS - 1, v = value; i >= 0; i--, v >>= GROUP_BITS) {
    groups[i] = Number(v & GROUP_MASK);
  }
  return formatV6Groups(groups);
}

/** Most decimal digits of a prefix `addressOf` takes, by family ("32", "128"). */
const PREFIX_DIGITS = { 4: 2, 6: 3 } as const;

/**
 * Strips an optional "/prefix" from an address ("10.0.0.5/24" -> "10.0.0.5")
 * and normalises it; throws on invalid text. Runtime-requested IPs come in
 * both forms. The prefix is only checked (decimal, at most 2 digits and 32 for
 * IPv4, 3 digits and 128 for IPv6; leading zeros pass, as they always did).
 */
export function addressOf(text: string): string {
  if (typeof text !== "string") return parseIp(text).text;
  const slash = text.indexOf("/");
  if (slash < 0) return normalizeIp(text);
  const p = tryParseIp(text.slice(0, slash));
  if (!p || !prefixDigitsOk(text, slash + 1, PREFIX_DIGITS[p.family], p.family === 4 ? 32 : 128)) {
    throw new AddressError(`Cannot parse IP address: ${JSON.stringify(text)} is invalid`, text);
  }
  return p.text;
}

/** True when `text` from `from` to its end is 1..`maxDigits` decimal digits worth at most `max`. */
function prefixDigitsOk(text: string, from: number, maxDigits: number, max: number): boolean {
  const len = text.length - from;
  if (len < 1 || len > maxDigits) return false;
  let n = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < CHAR_0 || c > CHAR_9) return false;
    n = n * 10 + (c - CHAR_0);
  }
  return n <= max;
}
