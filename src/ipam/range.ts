/**
 * Range sets as the allocator sees them (pure): which addresses a range set may
 * hand out, in which round-robin order, and how many are still free. Walks are
 * numeric and jump over excluded intervals, so a reservedRange covering most of
 * an IPv6 /64 costs one step, not 2^64.
 * @module
 */
import {
  bigIntToIp,
  type Cidr,
  type Family,
  type IpRange,
  mergeRanges,
  tryParseIp,
} from "../net/mod.ts";

/** One range of a range set, canonical and validated. */
export interface AllocRange {
  subnet: Cidr;
  /** First address handed out (inclusive). */
  rangeStart: string;
  /** Last address handed out (inclusive). */
  rangeEnd: string;
  gateway: string;
  startValue: bigint;
  endValue: bigint;
  gatewayValue: bigint;
}

/** A range set: one address per ADD comes from it. All ranges share a family. */
export interface RangeSet {
  family: Family;
  ranges: AllocRange[];
}

/** "10.22.0.0/24 (10.22.0.2-10.22.0.254)" for messages. */
export function describeRangeSet(set: RangeSet): string {
  return set.ranges.map((r) => `${r.subnet.text} (${r.rangeStart}-${r.rangeEnd})`).join(", ");
}

/** The range of `set` whose [rangeStart, rangeEnd] holds `value`, if any. */
export function rangeFor(set: RangeSet, family: Family, value: bigint): AllocRange | undefined {
  if (family !== set.family) return undefined;
  return set.ranges.find((r) => value >= r.startValue && value <= r.endValue);
}

/** The range of `set` holding the address text `ip`, if any. */
export function rangeForIp(set: RangeSet, ip: string): AllocRange | undefined {
  const p = tryParseIp(ip);
  return p ? rangeFor(set, p.family, p.value) : undefined;
}

/**
 * Addresses never handed out in `family`: every range's gateway, the network
 * and last address of every subnet (IPv4 broadcast; for IPv6 the
 * subnet-router anycast and the all-ones address), and `reservedRanges`.
 * Sorted and merged, for `isExcluded` and `skipExcluded`.
 */
export function exclusions(
  sets: readonly RangeSet[],
  reserved: readonly IpRange[],
  family: Family,
): IpRange[] {
  const out: IpRange[] = reserved.filter((r) => r.family === family);
  const point = (v: bigint): IpRange => {
    const text = bigIntToIp(family, v);
    return { family, start: text, end: text, startValue: v, endValue: v };
  };
  for (const s of sets) {
    if (s.family !== family) continue;
    for (const r of s.ranges) {
      out.push(point(r.gatewayValue), point(r.subnet.networkValue), point(r.subnet.lastValue));
    }
  }
  return mergeRanges(out);
}

/** The excluded interval holding `v`, if any (`ex` sorted and merged). */
function excludedAt(ex: readonly IpRange[], v: bigint): IpRange | undefined {
  for (const e of ex) {
    if (v < e.startValue) return undefined;
    if (v <= e.endValue) return e;
  }
  return undefined;
}

/** True when `v` may never be handed out. */
export function isExcluded(ex: readonly IpRange[], v: bigint): boolean {
  return excludedAt(ex, v) !== undefined;
}

/**
 * Candidate addresses of a range set in host-local's round-robin order: from
 * the address after `after` (when it lies in one of the ranges) to the end of
 * its range, then the following ranges, wrapping around, up to `after`
 * itself; from the first range's start otherwise. Excluded intervals are
 * jumped over. Lazy: the caller stops at the first free one.
 */
export function* candidates(
  set: RangeSet,
  ex: readonly IpRange[],
  after?: bigint,
): Generator<bigint> {
  const n = set.ranges.length;
  let first = 0;
  let from = set.ranges[0]!.startValue;
  let wrapTo: bigint | undefined;
  if (after !== undefined) {
    const i = set.ranges.findIndex((r) => after >= r.startValue && after <= r.endValue);
    if (i >= 0) {
      first = i;
      from = after + 1n;
      wrapTo = after;
    }
  }
  // Visit: [from, end of range `first`], the other ranges in order, then the
  // head of range `first` up to `wrapTo` (inclusive: the last reserved address
  // may have been released since).
  const segments: [bigint, bigint][] = [[from, set.ranges[first]!.endValue]];
  for (let k = 1; k < n; k++) {
    const r = set.ranges[(first + k) % n]!;
    segments.push([r.startValue, r.endValue]);
  }
  if (wrapTo !== undefined) segments.push([set.ranges[first]!.startValue, wrapTo]);
  for (const [lo, hi] of segments) {
    let v = lo;
    while (v <= hi) {
      const e = excludedAt(ex, v);
      if (e) {
        v = e.endValue + 1n;
        continue;
      }
      yield v;
      v++;
    }
  }
}

/**
 * Number of addresses of `set` that could still be handed out, given the
 * reserved address values. Counts intervals, never walks them.
 */
export function freeCount(
  set: RangeSet,
  ex: readonly IpRange[],
  taken: ReadonlySet<bigint>,
): bigint {
  let free = 0n;
  for (const r of set.ranges) {
    let size = r.endValue - r.startValue + 1n;
    for (const e of ex) {
      const lo = e.startValue > r.startValue ? e.startValue : r.startValue;
      const hi = e.endValue < r.endValue ? e.endValue : r.endValue;
      if (lo <= hi) size -= hi - lo + 1n;
    }
    for (const v of taken) {
      if (v >= r.startValue && v <= r.endValue && !isExcluded(ex, v)) size--;
    }
    free += size;
  }
  return free;
}
