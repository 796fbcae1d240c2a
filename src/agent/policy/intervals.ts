/**
 * Address and port intervals: CIDRs minus excepts, unions, membership, and
 * the nft element text of an interval (a prefix when it is one, else a
 * range). nft refuses overlapping elements in an interval set, so every set
 * the compiler writes is built from these merged, disjoint intervals.
 * @module
 */
import { bigIntToIp, type Family, parseIp } from "../../net/address.ts";
import { parseCidr } from "../../net/cidr.ts";
import type { AddressSet, Interval } from "./types.ts";

/** An empty address set. */
export function emptyAddressSet(): AddressSet {
  return { v4: [], v6: [] };
}

/** Sorts and merges address intervals (adjacent ones join). */
export function mergeIntervals(list: Interval<bigint>[]): Interval<bigint>[] {
  const s = [...list].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: Interval<bigint>[] = [];
  for (const i of s) {
    const last = out[out.length - 1];
    if (last && i.lo <= last.hi + 1n) {
      if (i.hi > last.hi) last.hi = i.hi;
    } else out.push({ lo: i.lo, hi: i.hi });
  }
  return out;
}

/** Sorts and merges port intervals (adjacent ones join). */
export function mergePortIntervals(list: Interval<number>[]): Interval<number>[] {
  const s = [...list].sort((a, b) => a.lo - b.lo);
  const out: Interval<number>[] = [];
  for (const i of s) {
    const last = out[out.length - 1];
    if (last && i.lo <= last.hi + 1) {
      if (i.hi > last.hi) last.hi = i.hi;
    } else out.push({ lo: i.lo, hi: i.hi });
  }
  return out;
}

/** `a` minus `b` (both merged). */
export function subtractIntervals(
  a: Interval<bigint>[],
  b: Interval<bigint>[],
): Interval<bigint>[] {
  let cur = a.map((i) => ({ ...i }));
  for (const x of b) {
    const next: Interval<bigint>[] = [];
    for (const i of cur) {
      if (x.hi < i.lo || x.lo > i.hi) {
        next.push(i);
        continue;
      }
      if (x.lo > i.lo) next.push({ lo: i.lo, hi: x.lo - 1n });
      if (x.hi < i.hi) next.push({ lo: x.hi + 1n, hi: i.hi });
    }
    cur = next;
  }
  return cur;
}

/** The interval of a CIDR, with its family. */
export function cidrInterval(text: string): { family: Family; iv: Interval<bigint> } {
  const c = parseCidr(text);
  return { family: c.family, iv: { lo: c.networkValue, hi: c.lastValue } };
}

/** The interval of one address, with its family. */
export function addressInterval(text: string): { family: Family; iv: Interval<bigint> } {
  const p = parseIp(text);
  return { family: p.family, iv: { lo: p.value, hi: p.value } };
}

/** Adds intervals to a set per family and merges. */
export function unionInto(set: AddressSet, family: Family, ivs: Interval<bigint>[]): void {
  const key = family === 4 ? "v4" : "v6";
  set[key] = mergeIntervals([...set[key], ...ivs]);
}

/** True when `value` lies in one of the merged `list` (binary search). */
export function inIntervals<T extends bigint | number>(list: Interval<T>[], value: T): boolean {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = list[mid]!;
    if (value < m.lo) hi = mid - 1;
    else if (value > m.hi) lo = mid + 1;
    else return true;
  }
  return false;
}

/** True when the address set holds `address`. */
export function setHas(set: AddressSet, family: Family, address: bigint): boolean {
  return inIntervals(family === 4 ? set.v4 : set.v6, address);
}

/** nft element text of an address interval: "a", "a/len" or "a-b". */
export function addressElement(family: Family, iv: Interval<bigint>): string {
  const lo = bigIntToIp(family, iv.lo);
  if (iv.lo === iv.hi) return lo;
  const size = iv.hi - iv.lo + 1n;
  if ((size & (size - 1n)) === 0n && iv.lo % size === 0n) {
    const bits = family === 4 ? 32 : 128;
    const len = bits - (size.toString(2).length - 1);
    return `${lo}/${len}`;
  }
  return `${lo}-${bigIntToIp(family, iv.hi)}`;
}

/** nft element text of a port interval. */
export function portElement(lo: number, hi: number): string {
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}
