/**
 * Canonical text for comparing what different sources spell differently:
 * the agent checks the kernel's "fd00:10::/64" against the datastore's
 * "fd00:0010::/64", so both go through `canonCidr`/`canonIp` first. Also the
 * overlap set the agent's desired state checks every peer subnet against.
 * All parsing is address.ts/cidr.ts (fast path and memo included).
 * @module
 */
import { AddressError, bigIntToIp, type Family, familyBits, tryParseIp } from "./address.ts";
import { type Cidr, parseCidr } from "./cidr.ts";

/**
 * An address in its shortest standard form ("fd00:10::1"); a "/len" suffix
 * and a "%zone" are dropped. Throws an `AddressError` on invalid text.
 */
export function canonIp(ip: string): string {
  const end = ip.search(/[/%]/);
  const p = tryParseIp(end < 0 ? ip : ip.slice(0, end));
  if (!p) {
    throw new AddressError(`Cannot parse an IP address: ${JSON.stringify(ip)} is not valid`, ip);
  }
  // The caller's string when already canonical: a kept result then shares the input's
  // string instead of holding a second copy (20,000 peers hold one each).
  return p.text === ip ? ip : p.text;
}

/** Prefix length of a CIDR; throws on invalid text. */
export function prefixLength(cidr: string): number {
  return parseCidr(cidr).prefix;
}

/** The first usable address of a subnet with its prefix: "10.244.1.0/24" gives "10.244.1.1/24". */
export function gatewayCidr(subnet: string): string {
  const c = parseCidr(subnet);
  if (c.prefix === familyBits(c.family)) {
    throw new Error(`Cannot compute a gateway: ${subnet} has no address`);
  }
  return `${bigIntToIp(c.family, c.networkValue + 1n)}/${c.prefix}`;
}

/** Map keys are family * KEY_BASE + prefix length (a prefix is at most 128). */
const KEY_BASE = 1000;

/** The network of `c` truncated to `len` bits, as a set key. */
function keyAt(c: Cidr, len: number): bigint {
  return c.networkValue >> BigInt(familyBits(c.family) - len);
}

/**
 * A set of CIDRs answering "does this one overlap any of them?" in time
 * proportional to the number of distinct prefix lengths, not to the number of
 * members: the desired state checks every peer's subnet against all earlier
 * ones, which is quadratic with a plain list (seconds at 5,000 nodes).
 */
export class CidrSet {
  readonly #members: Cidr[] = [];
  /** family*KEY_BASE+prefix -> network keys of the members with that prefix. */
  readonly #byPrefix = new Map<number, Set<bigint>>();
  /** family*KEY_BASE+len -> the members of prefix >= len, truncated to len (built on first use). */
  readonly #within = new Map<number, Set<bigint>>();

  /** Number of members. */
  get size(): number {
    return this.#members.length;
  }

  /** Adds a CIDR (throws when it does not parse); a parsed one is not parsed again. */
  add(cidr: string | Cidr): this {
    const c = typeof cidr === "string" ? parseCidr(cidr) : cidr;
    this.#members.push(c);
    const k = c.family * KEY_BASE + c.prefix;
    let set = this.#byPrefix.get(k);
    if (!set) this.#byPrefix.set(k, set = new Set());
    set.add(keyAt(c, c.prefix));
    for (const [key, within] of this.#within) {
      const len = key % KEY_BASE;
      if (familyOfKey(key) === c.family && c.prefix >= len) within.add(keyAt(c, len));
    }
    return this;
  }

  /** True when `cidr` shares an address with a member (equal, inside or around it). */
  overlaps(cidr: string | Cidr): boolean {
    const c = typeof cidr === "string" ? parseCidr(cidr) : cidr;
    for (const [key, set] of this.#byPrefix) {
      const p = key % KEY_BASE;
      if (familyOfKey(key) !== c.family || p > c.prefix) continue;
      if (set.has(keyAt(c, p))) return true;
    }
    const wkey = c.family * KEY_BASE + c.prefix;
    let within = this.#within.get(wkey);
    if (!within) {
      within = new Set();
      for (const m of this.#members) {
        if (m.family === c.family && m.prefix >= c.prefix) within.add(keyAt(m, c.prefix));
      }
      this.#within.set(wkey, within);
    }
    return within.has(keyAt(c, c.prefix));
  }
}

function familyOfKey(key: number): Family {
  return Math.floor(key / KEY_BASE) === 4 ? 4 : 6;
}
