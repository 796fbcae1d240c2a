/**
 * Single IP addresses: parse, normalise, step. Parsing (validation)
 * goes through `ip-cidr` (and the `ip-address` classes it hands out), and so
 * does IPv6 formatting, so the canonical text is the library's RFC 5952 form
 * for IPv6 and dotted quad for IPv4 — the same text Go's `net.IP.String()`
 * writes, which host-local uses as the file name of a reservation.
 *
 * Addresses are strings at the API. The `bigint` helpers exist for the
 * allocator, which walks ranges numerically and formats only what it keeps.
 * The numbers are native BigInts read off the library's parse: the library's
 * own jsbn conversions are never on the per-pod path (see `libValue`).
 *
 * This is the project's one address parser (the agent's 5,000-node passes,
 * the datastores and the netlink byte codec all come here), so repeated parses
 * must be cheap: a canonical dotted quad takes a char-loop fast path (its
 * result equals the library's, lib_parity_test.ts checks it on random input)
 * and every other text is parsed by the library once and then answered from a
 * small bounded memo (`ParseMemo`).
 * @module
 */
import IPCIDR from "ip-cidr";

/**
 * An address family by its IP version. The project's one spelling of it:
 * netlink, iptables, IPAM and the agent all import it from here (src/net is
 * the bottom layer, so nothing below it has to know the OS types).
 */
export type Family = 4 | 6;

/** Character codes the char-loop parsers compare against. */
export const CHAR_DOT = 46;
export const CHAR_0 = 48;
export const CHAR_9 = 57;
/** Values of one IPv4 octet (0-255), and the octets of an address. */
const OCTET_VALUES = 256;
const IPV4_OCTETS = 4;
/** An IPv6 address is eight groups of 16 bits. */
const IPV6_GROUPS = 8;
const GROUP_BITS = 16n;
const GROUP_MASK = 0xffffn;
/** Most decimal digits of an IPv4 octet. */
const MAX_OCTET_DIGITS = 3;
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

/**
 * Family of an address or CIDR text by its spelling alone (a colon means
 * IPv6), for text that was validated before; no parse.
 */
export function familyOf(addrOrCidr: string): Family {
  return addrOrCidr.includes(":") ? 6 : 4;
}

/**
 * The library's IPv6 class (ip-cidr hands it out but does not export it).
 * Looked up on use, not at import: a plugin process that never sees IPv6 text
 * should not pay for the library's first parse.
 */
function address6(text: string): LibAddress {
  const cls = IPCIDR.createAddress("::").constructor as unknown as new (t: string) => LibAddress;
  return new cls(text);
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
 * The value of a canonical dotted quad ("10.0.0.1": four decimal octets, no
 * leading zeros, nothing else), or -1. A char loop (no split, no regex): the
 * agent parses tens of thousands of these per pass. Every text it accepts,
 * ip-cidr accepts with the same value and prints unchanged.
 */
export function fastV4(text: string, from = 0, to = text.length): number {
  let octets = 0, digits = 0, octet = 0, value = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : CHAR_DOT; // the end acts as a final "."
    if (c === CHAR_DOT) {
      if (digits === 0 || octets === IPV4_OCTETS) return -1;
      value = value * OCTET_VALUES + octet;
      octets++;
      digits = 0;
      octet = 0;
    } else if (c >= CHAR_0 && c <= CHAR_9) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - CHAR_0);
      if (++digits > MAX_OCTET_DIGITS || octet >= OCTET_VALUES) return -1;
    } else {
      return -1;
    }
  }
  return octets === IPV4_OCTETS ? value : -1;
}

/** Text of an IPv4 value (a 32-bit unsigned number). */
export function formatV4(n: number): string {
  const o = OCTET_VALUES - 1;
  return `${n >>> 24}.${(n >>> 16) & o}.${(n >>> 8) & o}.${n & o}`;
}

/**
 * RFC 5952 text of eight 16-bit groups: lowercase, no leading zeros, the
 * longest run (the first on a tie) of two or more zero groups as "::". Equal
 * to ip-cidr's `correctForm` (lib_parity_test.ts), without its parse.
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

/** Parses with ip-cidr; undefined when the text is not an address (with or without prefix). */
export function libParse(text: string): LibAddress | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  try {
    // createAddress keeps only what follows the last ":" of "x:a.b.c.d" (so
    // "::ffff:1.2.3.4", and even "junk:1.2.3.4", became IPv4): any text with a
    // colon goes to the library's IPv6 class, which reads embedded IPv4 right.
    const a = (text.includes(":") ? address6(text) : IPCIDR.createAddress(text)) as LibAddress;
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
  if (g.length === IPV4_OCTETS) {
    return BigInt(
      ((parseInt(g[0]!, 10) * OCTET_VALUES + parseInt(g[1]!, 10)) * OCTET_VALUES +
            parseInt(g[2]!, 10)) * OCTET_VALUES + parseInt(g[3]!, 10),
    );
  }
  let hex = "0x";
  for (const group of g) hex += group.padStart(4, "0");
  return BigInt(hex);
}

/** Family of a library parse (its `v4` flag is also set on IPv6 with embedded IPv4). */
export function libFamily(a: LibAddress): Family {
  return a.parsedAddress.length === IPV4_OCTETS ? 4 : 6;
}

function libToParsed(a: LibAddress): ParsedIp {
  return { family: libFamily(a), value: libValue(a), text: a.correctForm() };
}

/** Parses a plain address (no prefix); undefined when it is not one. */
export function tryParseIp(text: string): ParsedIp | undefined {
  if (typeof text !== "string") return undefined;
  const v4 = fastV4(text);
  if (v4 >= 0) return { family: 4, value: BigInt(v4), text };
  return IP_MEMO.get(text, libParseIp);
}

/** Memoised slow-path parses (IPv6, and IPv4 text the fast path refused). */
const IP_MEMO = new ParseMemo<ParsedIp>(MEMO_ENTRIES);

function libParseIp(text: string): ParsedIp | undefined {
  if (text.includes("/")) return undefined;
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

/** Canonical text of an address ("FD00:0::1" -> "fd00::1"); throws on invalid text. */
export function normalizeIp(text: string): string {
  return parseIp(text).text;
}

/** Numeric value of an address; throws on invalid text. */
export function ipToBigInt(text: string): bigint {
  return parseIp(text).value;
}

/**
 * Canonical text of the address `value` in `family`: the dotted quad, or the
 * RFC 5952 text the library's `correctForm` prints (`formatV6Groups`).
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
