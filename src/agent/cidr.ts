/**
 * The few address helpers the agent needs. Every address and CIDR the agent
 * compares goes through `canonCidr`/`canonIp` first, so the kernel's
 * spelling ("fd00:10::/64") and the datastore's ("fd00:0010::/64") never make
 * a correct route look wrong.
 *
 * Hand-written parsing on plain numbers, no library: a pass over 5,000 nodes
 * calls these tens of thousands of times, and `ip-cidr` (jsbn big integers)
 * costs 30-60 us a call where this costs well under 1 us. The results equal
 * ip-cidr's for every valid input (cidr_test.ts checks that on random
 * addresses): dotted quads without leading zeros, RFC 5952 IPv6 text.
 * @module
 */
import type { Family } from "../system/netlink/types.ts";

/** Family of an address or CIDR string. */
export function familyOf(addrOrCidr: string): Family {
  return addrOrCidr.includes(":") ? 6 : 4;
}

/** An address as 16-bit groups: 2 for IPv4, 8 for IPv6. */
type Groups = number[];

const V6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Dotted quad, no leading zeros; a char loop (no split, no regex) as it runs per node. */
function parseV4(text: string): Groups | undefined {
  const octets = [0, 0, 0, 0];
  let n = 0, digits = 0, value = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // end acts as a final "."
    if (c === 46) {
      if (digits === 0 || n > 3) return undefined;
      octets[n++] = value;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (n !== 4) return undefined;
  return [(octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!];
}

function parseV6Groups(parts: string[]): Groups | undefined {
  const out: Groups = [];
  for (const [i, p] of parts.entries()) {
    if (i === parts.length - 1 && p.includes(".")) {
      const v4 = parseV4(p);
      if (!v4) return undefined;
      out.push(...v4);
    } else if (V6_GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

function parseV6(text: string): Groups | undefined {
  const zone = text.indexOf("%");
  const bare = zone >= 0 ? text.slice(0, zone) : text;
  if (zone >= 0 && zone === text.length - 1) return undefined;
  const halves = bare.split("::");
  if (halves.length > 2) return undefined;
  const side = (s: string) => s === "" ? [] : parseV6Groups(s.split(":"));
  if (halves.length === 1) {
    const g = side(halves[0]!);
    return g && g.length === 8 ? g : undefined;
  }
  const head = side(halves[0]!);
  const tail = side(halves[1]!);
  if (!head || !tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function parseAddr(text: string): { family: Family; groups: Groups } | undefined {
  if (text.includes(":")) {
    const groups = parseV6(text);
    return groups && { family: 6, groups };
  }
  const groups = parseV4(text);
  return groups && { family: 4, groups };
}

interface ParsedCidr {
  family: Family;
  /** The network (host bits cleared). */
  groups: Groups;
  prefix: number;
}

function parseCidrText(cidr: string): ParsedCidr | undefined {
  const slash = cidr.indexOf("/");
  if (slash < 0) return undefined;
  const addr = parseAddr(cidr.slice(0, slash));
  if (!addr) return undefined;
  let prefix = 0;
  const len = cidr.length - slash - 1;
  if (len < 1 || len > 3 || (len > 1 && cidr.charCodeAt(slash + 1) === 48)) return undefined;
  for (let i = slash + 1; i < cidr.length; i++) {
    const c = cidr.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    prefix = prefix * 10 + (c - 48);
  }
  if (prefix > addr.groups.length * 16) return undefined;
  return { family: addr.family, groups: mask(addr.groups, prefix), prefix };
}

function mask(groups: Groups, prefix: number): Groups {
  return groups.map((g, i) => {
    const keep = Math.max(0, Math.min(16, prefix - i * 16));
    return keep === 16 ? g : keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
}

function format(family: Family, g: Groups): string {
  if (family === 4) return `${g[0]! >> 8}.${g[0]! & 255}.${g[1]! >> 8}.${g[1]! & 255}`;
  // RFC 5952: the longest run (first on a tie) of two or more zero groups becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: Groups) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

function invalid(what: string, text: string): Error {
  return new Error(`Cannot parse ${what}: ${JSON.stringify(text)} is not valid`);
}

function mustAddr(ip: string): { family: Family; groups: Groups } {
  const a = parseAddr(ip.split("/")[0]!);
  if (!a) throw invalid("an IP address", ip);
  return a;
}

function mustCidr(cidr: string): ParsedCidr {
  const c = parseCidrText(cidr);
  if (!c) throw invalid("a CIDR", cidr);
  return c;
}

/** True when `cidr` parses as a CIDR ("10.0.0.0/16"). */
export function isCidr(cidr: string): boolean {
  return parseCidrText(cidr) !== undefined;
}

/** True when `ip` parses as a bare address. */
export function isIp(ip: string): boolean {
  return !ip.includes("/") && parseAddr(ip) !== undefined;
}

/** An address in its shortest standard form ("fd00:10::1"); a "/len" suffix is dropped. */
export function canonIp(ip: string): string {
  const a = mustAddr(ip);
  return format(a.family, a.groups);
}

/** The network of a CIDR in standard form: "10.244.1.7/24" gives "10.244.1.0/24". */
export function canonCidr(cidr: string): string {
  const c = mustCidr(cidr);
  return `${format(c.family, c.groups)}/${c.prefix}`;
}

/** Prefix length of a CIDR. */
export function prefixLength(cidr: string): number {
  return mustCidr(cidr).prefix;
}

/** True when `ip` lies inside `cidr` (false across families). */
export function cidrContains(cidr: string, ip: string): boolean {
  const c = mustCidr(cidr);
  const a = mustAddr(ip);
  if (c.family !== a.family) return false;
  const m = mask(a.groups, c.prefix);
  return m.every((g, i) => g === c.groups[i]);
}

/** True when two CIDRs share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = mustCidr(a);
  const y = mustCidr(b);
  if (x.family !== y.family) return false;
  const p = Math.min(x.prefix, y.prefix);
  const mx = mask(x.groups, p), my = mask(y.groups, p);
  return mx.every((g, i) => g === my[i]);
}

/**
 * A set of CIDRs answering "does this one overlap any of them?" in time
 * proportional to the number of distinct prefix lengths, not to the number of
 * members: the desired state checks every peer's subnet against all earlier
 * ones, which is quadratic with a plain list (seconds at 5,000 nodes).
 */
export class CidrSet {
  readonly #members: ParsedCidr[] = [];
  /** family*1000+prefix -> network keys of the members with that prefix. */
  readonly #byPrefix = new Map<number, Set<string>>();
  /** family*1000+len -> the members of prefix >= len, truncated to len (built on first use). */
  readonly #within = new Map<number, Set<string>>();

  /** Number of members. */
  get size(): number {
    return this.#members.length;
  }

  /** Adds a CIDR (throws when it does not parse). */
  add(cidr: string): this {
    const c = mustCidr(cidr);
    this.#members.push(c);
    const k = c.family * 1000 + c.prefix;
    let set = this.#byPrefix.get(k);
    if (!set) this.#byPrefix.set(k, set = new Set());
    set.add(c.groups.join(":"));
    for (const [key, within] of this.#within) {
      const len = key % 1000;
      if (Math.floor(key / 1000) === c.family && c.prefix >= len) {
        within.add(mask(c.groups, len).join(":"));
      }
    }
    return this;
  }

  /** True when `cidr` shares an address with a member (equal, inside or around it). */
  overlaps(cidr: string): boolean {
    const c = mustCidr(cidr);
    for (const [key, set] of this.#byPrefix) {
      const p = key % 1000;
      if (Math.floor(key / 1000) !== c.family || p > c.prefix) continue;
      if (set.has(mask(c.groups, p).join(":"))) return true;
    }
    const wkey = c.family * 1000 + c.prefix;
    let within = this.#within.get(wkey);
    if (!within) {
      within = new Set();
      for (const m of this.#members) {
        if (m.family === c.family && m.prefix >= c.prefix) {
          within.add(mask(m.groups, c.prefix).join(":"));
        }
      }
      this.#within.set(wkey, within);
    }
    return within.has(c.groups.join(":"));
  }
}

/** The first usable address of a subnet with its prefix: "10.244.1.0/24" gives "10.244.1.1/24". */
export function gatewayCidr(subnet: string): string {
  const c = mustCidr(subnet);
  if (c.prefix === c.groups.length * 16) {
    throw new Error(`Cannot compute a gateway: ${subnet} has no address`);
  }
  const g = [...c.groups];
  for (let i = g.length - 1; i >= 0; i--) {
    g[i] = (g[i]! + 1) & 0xffff;
    if (g[i] !== 0) break;
  }
  return `${format(c.family, g)}/${c.prefix}`;
}
