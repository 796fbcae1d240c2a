/**
 * IPPool spec parsing (pure). Two shapes are accepted:
 *
 * - the k8s-ipam seed's `spec.ipPoolSubs[]`: `range` ("first-last/prefix",
 *   "first-last", a CIDR or one address), `reservedRanges` (same forms; a
 *   "/prefix" after a dash range is accepted and ignored, as the seed writes
 *   it), `netmaskBits` (the pod's prefix; defaults to the range's "/prefix")
 *   and `gateway` (defaults to the subnet's first host);
 * - a plain CIDR: `spec.cidr`, with optional `spec.gateway` and
 *   `spec.reservedRanges`.
 *
 * Each sub becomes the sorted list of intervals an allocator may hand out:
 * the range minus the gateway, the subnet's network and last address, and
 * every reserved range. Computing that once makes "never a reserved address"
 * a property of the data, not of every caller remembering to check.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import {
  bigIntToIp,
  type Family,
  familyBits,
  type IpRange,
  mergeRanges,
  tryParseCidr,
  tryParseIp,
} from "../../net/mod.ts";

/** An inclusive numeric interval of one family. */
export interface Interval {
  start: bigint;
  end: bigint;
}

/** One sub-range of a pool, validated. */
export interface PoolSub {
  family: Family;
  /** Prefix of the addresses handed out ("10.22.0.5/24"). */
  prefix: number;
  /** The subnet, canonical ("10.22.0.0/24"). */
  subnet: string;
  /** The configured range, canonical ("10.22.0.10-10.22.0.200"). */
  range: string;
  gateway: string;
  /** Sorted, disjoint intervals of addresses that may be handed out. */
  free: Interval[];
  /** Number of addresses in `free`. */
  size: bigint;
}

/** A parsed IPPool. */
export interface Pool {
  name: string;
  subs: PoolSub[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The error of an invalid pool: code 7, the pool is network configuration. */
export function poolError(pool: string, key: string, why: string): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, `Cannot use IPPool ${pool}: ${key} ${why}`);
}

interface RangeText {
  family: Family;
  start: bigint;
  end: bigint;
  /** The "/prefix" suffix, when written. */
  prefix?: number;
}

/** Parses "first-last/prefix", "first-last", "a.b.c.d/prefix" (the whole block) or one address. */
export function parseRangeText(text: string): RangeText | undefined {
  if (typeof text !== "string") return undefined;
  const t = text.trim();
  const dash = t.indexOf("-");
  if (dash < 0) {
    if (t.includes("/")) {
      const c = tryParseCidr(t);
      return c
        ? { family: c.family, start: c.networkValue, end: c.lastValue, prefix: c.prefix }
        : undefined;
    }
    const p = tryParseIp(t);
    return p ? { family: p.family, start: p.value, end: p.value } : undefined;
  }
  let rest = t.slice(dash + 1);
  let prefix: number | undefined;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const bits = rest.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits)) return undefined;
    prefix = Number(bits);
    rest = rest.slice(0, slash);
  }
  const a = tryParseIp(t.slice(0, dash).trim());
  const b = tryParseIp(rest.trim());
  if (!a || !b || a.family !== b.family || a.value > b.value) return undefined;
  if (prefix !== undefined && prefix > familyBits(a.family)) return undefined;
  return { family: a.family, start: a.value, end: b.value, prefix };
}

function rangeOrThrow(pool: string, key: string, v: unknown): RangeText {
  const r = typeof v === "string" ? parseRangeText(v) : undefined;
  if (!r) {
    throw poolError(
      pool,
      key,
      `must be "first-last/prefix", "first-last", a CIDR or an address, got ${JSON.stringify(v)}`,
    );
  }
  return r;
}

function reservedOf(pool: string, key: string, v: unknown): IpRange[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw poolError(pool, key, "must be an array of strings");
  return v.map((s, i) => {
    const r = rangeOrThrow(pool, `${key}[${i}]`, s);
    return {
      family: r.family,
      start: bigIntToIp(r.family, r.start),
      end: bigIntToIp(r.family, r.end),
      startValue: r.start,
      endValue: r.end,
    };
  });
}

/** `range` minus the (merged) exclusions, as sorted intervals. */
export function subtract(range: Interval, excluded: readonly IpRange[]): Interval[] {
  const out: Interval[] = [];
  let cur = range.start;
  for (const e of excluded) {
    if (e.endValue < cur) continue;
    if (e.startValue > range.end) break;
    if (e.startValue > cur) out.push({ start: cur, end: e.startValue - 1n });
    cur = e.endValue + 1n;
    if (cur > range.end) return out;
  }
  if (cur <= range.end) out.push({ start: cur, end: range.end });
  return out;
}

interface SubInput {
  range: unknown;
  netmaskBits: unknown;
  gateway: unknown;
  reservedRanges: unknown;
}

function parseSub(pool: string, key: string, s: SubInput): PoolSub {
  const r = rangeOrThrow(pool, `${key}.range`, s.range);
  const bits = familyBits(r.family);
  let prefix = r.prefix;
  if (s.netmaskBits !== undefined && s.netmaskBits !== null) {
    const n = s.netmaskBits;
    if (typeof n !== "number" || !Number.isInteger(n)) {
      throw poolError(pool, `${key}.netmaskBits`, "must be an integer");
    }
    if (prefix !== undefined && prefix !== n) {
      throw poolError(pool, `${key}.netmaskBits`, `(${n}) differs from the range's /${prefix}`);
    }
    prefix = n;
  }
  if (prefix === undefined) {
    throw poolError(pool, `${key}.netmaskBits`, "is required when the range has no /prefix");
  }
  if (prefix < 1 || prefix > bits - 2) {
    throw poolError(pool, `${key}.netmaskBits`, `must be within 1..${bits - 2}, got ${prefix}`);
  }
  const hostBits = BigInt(bits - prefix);
  const network = (r.start >> hostBits) << hostBits;
  const last = network + (1n << hostBits) - 1n;
  const subnet = `${bigIntToIp(r.family, network)}/${prefix}`;
  if (r.end > last) {
    throw poolError(pool, `${key}.range`, `does not fit in one /${prefix} (${subnet})`);
  }
  let gw = network + 1n;
  if (s.gateway !== undefined && s.gateway !== null && s.gateway !== "") {
    const g = typeof s.gateway === "string" ? tryParseIp(s.gateway) : undefined;
    if (!g || g.family !== r.family || g.value < network || g.value > last) {
      throw poolError(pool, `${key}.gateway`, `must be an address in ${subnet}`);
    }
    if (g.value === network || g.value === last) {
      throw poolError(pool, `${key}.gateway`, "must not be the network or broadcast address");
    }
    gw = g.value;
  }
  const point = (v: bigint): IpRange => {
    const t = bigIntToIp(r.family, v);
    return { family: r.family, start: t, end: t, startValue: v, endValue: v };
  };
  const reserved = reservedOf(pool, `${key}.reservedRanges`, s.reservedRanges);
  reserved.forEach((x, i) => {
    if (x.family !== r.family) {
      throw poolError(pool, `${key}.reservedRanges[${i}]`, "is not of the range's family");
    }
  });
  const excluded = mergeRanges([...reserved, point(gw), point(network), point(last)]);
  const free = subtract({ start: r.start, end: r.end }, excluded);
  return {
    family: r.family,
    prefix,
    subnet,
    range: `${bigIntToIp(r.family, r.start)}-${bigIntToIp(r.family, r.end)}`,
    gateway: bigIntToIp(r.family, gw),
    free,
    size: free.reduce((n, i) => n + i.end - i.start + 1n, 0n),
  };
}

/**
 * Parses an IPPool object (the whole resource: metadata.name and spec).
 * Throws CniError code 7 naming the offending key.
 */
export function parsePool(obj: unknown): Pool {
  const meta = isObj(obj) && isObj(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === "string" ? meta.name : "?";
  const spec = isObj(obj) ? obj.spec : undefined;
  if (!isObj(spec)) throw poolError(name, "spec", "must be an object");
  const hasCidr = spec.cidr !== undefined && spec.cidr !== null;
  const hasSubs = spec.ipPoolSubs !== undefined && spec.ipPoolSubs !== null;
  if (hasCidr === hasSubs) {
    throw poolError(name, "spec", "must have exactly one of cidr and ipPoolSubs");
  }
  let subs: PoolSub[];
  if (hasCidr) {
    const c = typeof spec.cidr === "string" ? tryParseCidr(spec.cidr) : undefined;
    if (!c) throw poolError(name, "spec.cidr", `must be a CIDR, got ${JSON.stringify(spec.cidr)}`);
    subs = [parseSub(name, "spec", {
      range: `${c.network}-${c.last}/${c.prefix}`,
      netmaskBits: undefined,
      gateway: spec.gateway,
      reservedRanges: spec.reservedRanges,
    })];
  } else {
    const list = spec.ipPoolSubs;
    if (!Array.isArray(list) || list.length === 0) {
      throw poolError(name, "spec.ipPoolSubs", "must be a non-empty array");
    }
    subs = list.map((s, i) => {
      const key = `spec.ipPoolSubs[${i}]`;
      if (!isObj(s)) throw poolError(name, key, "must be an object");
      return parseSub(name, key, {
        range: s.range,
        netmaskBits: s.netmaskBits,
        gateway: s.gateway,
        reservedRanges: s.reservedRanges,
      });
    });
  }
  for (let a = 0; a < subs.length; a++) {
    for (let b = a + 1; b < subs.length; b++) {
      if (overlap(subs[a]!, subs[b]!)) {
        throw poolError(name, `spec.ipPoolSubs[${b}].range`, `overlaps ipPoolSubs[${a}]`);
      }
    }
  }
  return { name, subs };
}

function overlap(x: PoolSub, y: PoolSub): boolean {
  return x.family === y.family &&
    x.free.some((i) => y.free.some((j) => i.start <= j.end && j.start <= i.end));
}

/** The families the pool hands out, IPv4 first: an ADD takes one address of each. */
export function poolFamilies(pool: Pool): Family[] {
  const fams = new Set(pool.subs.map((s) => s.family));
  return ([4, 6] as const).filter((f) => fams.has(f));
}

/** The sub whose free intervals hold the address, if any: "may this be handed out?". */
export function subFor(pool: Pool, ip: string): PoolSub | undefined {
  const p = tryParseIp(ip);
  if (!p) return undefined;
  return pool.subs.find((s) =>
    s.family === p.family && s.free.some((i) => p.value >= i.start && p.value <= i.end)
  );
}

/** "10.22.0.0/24 (10.22.0.10-10.22.0.200)" of every sub of `family`, for messages. */
export function describePool(pool: Pool, family: Family): string {
  return pool.subs.filter((s) => s.family === family).map((s) => `${s.subnet} (${s.range})`)
    .join(", ");
}
