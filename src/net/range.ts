/**
 * Inclusive address ranges ("10.0.0.10-10.0.0.20", a CIDR, or one address):
 * what `reservedRanges` and range sets are made of. Kept numeric inside so
 * overlap and membership are comparisons, and iteration is lazy so a /64 never
 * becomes an array.
 * @module
 */
import {
  AddressError,
  bigIntToIp,
  type Family,
  type ParsedIp,
  parseIp,
  tryParseIp,
} from "./address.ts";
import { tryParseCidr } from "./cidr.ts";

/** An inclusive range of one family. */
export interface IpRange {
  family: Family;
  /** First address, canonical. */
  start: string;
  /** Last address, canonical. */
  end: string;
  startValue: bigint;
  endValue: bigint;
}

/** Builds a range from two addresses; throws when the families differ or start > end. */
export function ipRange(start: string, end: string): IpRange {
  return rangeFromParsed(parseIp(start), parseIp(end), `${start}-${end}`);
}

function rangeFromParsed(a: ParsedIp, b: ParsedIp, input: string): IpRange {
  if (a.family !== b.family) {
    throw new AddressError(
      `Cannot parse range ${JSON.stringify(input)}: mixed address families`,
      input,
    );
  }
  if (a.value > b.value) {
    throw new AddressError(
      `Cannot parse range ${JSON.stringify(input)}: start is after end`,
      input,
    );
  }
  return { family: a.family, start: a.text, end: b.text, startValue: a.value, endValue: b.value };
}

/**
 * Parses "first-last", a CIDR (the whole block) or a single address. Throws an
 * `AddressError` naming the input otherwise.
 */
export function parseIpRange(text: string): IpRange {
  if (typeof text !== "string") {
    throw new AddressError(
      `Cannot parse range: ${JSON.stringify(text)} is not a string`,
      String(text),
    );
  }
  const dash = text.indexOf("-");
  if (dash >= 0) {
    const a = tryParseIp(text.slice(0, dash).trim());
    const b = tryParseIp(text.slice(dash + 1).trim());
    if (!a || !b) {
      throw new AddressError(`Cannot parse range ${JSON.stringify(text)}: not "first-last"`, text);
    }
    return rangeFromParsed(a, b, text);
  }
  if (text.includes("/")) {
    const c = tryParseCidr(text);
    if (!c) throw new AddressError(`Cannot parse range ${JSON.stringify(text)}: bad CIDR`, text);
    return {
      family: c.family,
      start: c.network,
      end: c.last,
      startValue: c.networkValue,
      endValue: c.lastValue,
    };
  }
  const p = tryParseIp(text);
  if (!p) {
    throw new AddressError(`Cannot parse range ${JSON.stringify(text)}: not an address`, text);
  }
  return rangeFromParsed(p, p, text);
}

/** True when `ip` lies in the range. */
export function rangeContains(r: IpRange, ip: string): boolean {
  const p = tryParseIp(ip);
  return p !== undefined && p.family === r.family && p.value >= r.startValue &&
    p.value <= r.endValue;
}

/** True when the ranges share at least one address. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.startValue <= b.endValue && b.startValue <= a.endValue;
}

/** Number of addresses in the range. */
export function rangeSize(r: IpRange): bigint {
  return r.endValue - r.startValue + 1n;
}

/** "first-last" text of a range. */
export function formatIpRange(r: IpRange): string {
  return r.start === r.end ? r.start : `${r.start}-${r.end}`;
}

/**
 * Yields the range's addresses in order, lazily; starts at `from` when it is
 * inside the range. Stop early with `break`.
 */
export function* iterateRange(r: IpRange, opts: { from?: string } = {}): Generator<string> {
  let v = r.startValue;
  if (opts.from !== undefined) {
    const f = parseIp(opts.from);
    if (f.family === r.family && f.value >= r.startValue && f.value <= r.endValue) v = f.value;
  }
  for (; v <= r.endValue; v++) yield bigIntToIp(r.family, v);
}

/**
 * Merges overlapping or adjacent ranges of each family into a sorted,
 * disjoint list, so membership can stop at the first range past a value.
 */
export function mergeRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) =>
    a.family !== b.family
      ? a.family - b.family
      : a.startValue < b.startValue
      ? -1
      : a.startValue > b.startValue
      ? 1
      : 0
  );
  const out: IpRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.family === r.family && r.startValue <= prev.endValue + 1n) {
      if (r.endValue > prev.endValue) {
        out[out.length - 1] = { ...prev, end: r.end, endValue: r.endValue };
      }
    } else {
      out.push({ ...r });
    }
  }
  return out;
}
