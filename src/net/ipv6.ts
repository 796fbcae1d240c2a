/**
 * The project's own IPv6 text parser: eight 16-bit groups from the RFC 4291
 * text forms (full, "::" compressed, IPv4 embedded in the last 32 bits).
 * It accepts exactly the texts the ip-cidr/ip-address pair accepted before it
 * replaced them (ip_parity_test.ts runs both over thousands of random and
 * adversarial inputs), so no configuration that was valid stops being valid:
 * - only hex digits (either case) and ":", groups of one to four digits
 *   (leading zeros inside a group are fine: "fd00:0010::" is "fd00:10::");
 * - at most one "::", standing for at least one zero group; no ":::", no
 *   single ":" at either end; exactly eight groups in all;
 * - an embedded IPv4 address only as the last group, a canonical dotted
 *   quad (no leading zeros, octets 0-255); it makes two groups;
 * - no zone ("%eth0"), no prefix: callers split those off and decide.
 * Pure, no allocation beyond the result on the accepting path.
 * @module
 */
import { fastV4 } from "./ipv4.ts";

/** An IPv6 address is eight groups of 16 bits. */
export const IPV6_GROUPS = 8;
/** Most hex digits of one group. */
const MAX_GROUP_DIGITS = 4;
const CHAR_COLON = 58;

/** A parsed IPv6 text. */
export interface V6Parse {
  /** The eight group values, 0-65535. */
  groups: number[];
  /** True when the text ended in an embedded dotted quad ("::ffff:10.0.0.1"). */
  embeddedV4: boolean;
}

/** Value of a hex digit char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/**
 * The groups of the IPv6 text `text.slice(from, to)`, or undefined when it
 * is not one (see the module doc for the exact rules).
 */
export function parseV6(text: string, from = 0, to = text.length): V6Parse | undefined {
  const lastColon = text.lastIndexOf(":", to - 1);
  if (lastColon < from) return undefined;
  const dot = text.indexOf(".", lastColon);
  if (dot < 0 || dot >= to) {
    const groups = parseGroups(text, from, to);
    return groups && { groups, embeddedV4: false };
  }
  // An embedded IPv4 address after the last colon: it reads as two hex groups.
  const q = fastV4(text, lastColon + 1, to);
  if (q < 0) return undefined;
  const body = `${text.slice(from, lastColon + 1)}${(q >>> 16).toString(16)}:${
    (q & 0xffff).toString(16)
  }`;
  const groups = parseGroups(body, 0, body.length);
  return groups && { groups, embeddedV4: true };
}

/** Eight groups from hex-and-colon text, "::" expanded; undefined when malformed. */
function parseGroups(s: string, from: number, to: number): number[] | undefined {
  const groups: number[] = [];
  let gap = -1; // index in `groups` where "::" stands
  let i = from;
  if (i >= to) return undefined;
  if (s.charCodeAt(i) === CHAR_COLON) {
    // Only "::" may start the text (not ":" alone, not ":1:...", not ":::").
    if (i + 1 >= to || s.charCodeAt(i + 1) !== CHAR_COLON) return undefined;
    gap = 0;
    i += 2;
    if (i < to && s.charCodeAt(i) === CHAR_COLON) return undefined;
  }
  while (i < to) {
    let value = 0, digits = 0;
    for (let d = hexDigit(s.charCodeAt(i)); d >= 0 && i < to; d = hexDigit(s.charCodeAt(++i))) {
      value = value * 16 + d;
      if (++digits > MAX_GROUP_DIGITS) return undefined;
    }
    if (digits === 0) return undefined; // a character that is neither hex nor a separator
    groups.push(value);
    if (i === to) break;
    if (s.charCodeAt(i) !== CHAR_COLON) return undefined;
    if (++i === to) return undefined; // a single colon at the end
    if (s.charCodeAt(i) === CHAR_COLON) {
      if (gap >= 0) return undefined; // a second "::"
      gap = groups.length;
      if (++i < to && s.charCodeAt(i) === CHAR_COLON) return undefined; // ":::"
    }
  }
  if (gap >= 0) {
    const missing = IPV6_GROUPS - groups.length;
    if (missing <= 0) return undefined; // "::" stands for at least one group
    groups.splice(gap, 0, ...new Array<number>(missing).fill(0));
  }
  return groups.length === IPV6_GROUPS ? groups : undefined;
}

/** The 128-bit value of eight 16-bit groups. */
export function groupsValue(groups: readonly number[]): bigint {
  // Two 64-bit halves from 32-bit pieces: fewer BigInt operations than eight shifts.
  const w = (i: number) => BigInt(groups[i]! * 0x10000 + groups[i + 1]!);
  return (((w(0) << 32n) | w(2)) << 64n) | (w(4) << 32n) | w(6);
}
