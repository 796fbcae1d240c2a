/**
 * Byte-level IP, CIDR and MAC conversions for netlink messages. Kept here
 * (pure, dependency free) because the plugin's hot path should not load a CIDR
 * library just to turn "10.22.0.5/24" into 5 bytes; formatting follows
 * inet_ntop so strings compare equal to `ip -j` output.
 * @module
 */

import type { Family } from "./types.ts";
import { NetlinkError } from "./errors.ts";

const EINVAL = 22;

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpBytes {
  family: Family;
  bytes: Uint8Array;
}

/** An address with a prefix length. */
export interface CidrBytes extends IpBytes {
  prefix: number;
}

function invalid(what: string, value: string): NetlinkError {
  return new NetlinkError(EINVAL, `Cannot parse ${what} "${value}": invalid syntax`);
}

function parseV4Into(s: string, out: Uint8Array, at: number): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

function parseV6(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[] = [];
  const push = (list: string[], isLast: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      if (isLast && i === list.length - 1 && g.includes(".")) {
        const v4 = new Uint8Array(4);
        if (!parseV4Into(g, v4, 0)) return false;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        words.push(parseInt(g, 16));
      } else return false;
    }
    return true;
  };
  if (!push(head, halves.length === 1)) return undefined;
  const headLen = words.length;
  if (!push(tail, true)) return undefined;
  const tailLen = words.length - headLen;
  if (halves.length === 1 ? words.length !== 8 : words.length > 7) return undefined;
  for (let i = 0; i < headLen; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  for (let i = 0; i < tailLen; i++) {
    const w = words[headLen + i]!;
    const pos = 8 - tailLen + i;
    out[pos * 2] = w >> 8;
    out[pos * 2 + 1] = w & 0xff;
  }
  return out;
}

/** Parses "10.0.0.1" or "fd00::1"; throws NetlinkError(EINVAL) on bad syntax. */
export function parseIp(s: string): IpBytes {
  if (s.includes(":")) {
    const bytes = parseV6(s);
    if (!bytes) throw invalid("IP address", s);
    return { family: 6, bytes };
  }
  const bytes = new Uint8Array(4);
  if (!parseV4Into(s, bytes, 0)) throw invalid("IP address", s);
  return { family: 4, bytes };
}

/** Parses "10.0.0.1/24"; a bare address gets the full-length prefix. */
export function parseCidr(s: string): CidrBytes {
  const slash = s.indexOf("/");
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  const max = ip.family === 4 ? 32 : 128;
  if (slash < 0) return { ...ip, prefix: max };
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw invalid("CIDR", s);
  return { ...ip, prefix: Number(p) };
}

/** Formats 4 or 16 bytes like inet_ntop. */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  let bestBase = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) [bestBase, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      const sep = out.endsWith(":") ? "" : ":";
      return `${out}${sep}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    }
    if (out !== "" && !out.endsWith(":")) out += ":";
    out += w[i]!.toString(16);
  }
  return out;
}

/** Zeroes the host bits of `bytes` beyond `prefix`, returning a copy. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** True when every host bit of the cidr is zero (a network address). */
export function isNetworkAddress(c: CidrBytes): boolean {
  return maskBytes(c.bytes, c.prefix).every((x, i) => x === c.bytes[i]);
}

/** True when `ip` lies inside `net`. */
export function cidrContains(net: CidrBytes, ip: IpBytes): boolean {
  if (net.family !== ip.family) return false;
  const a = maskBytes(net.bytes, net.prefix);
  const b = maskBytes(ip.bytes, net.prefix);
  return a.every((x, i) => x === b[i]);
}

/** Canonical "addr/prefix" text of a cidr. */
export function formatCidr(c: { bytes: Uint8Array; prefix: number }): string {
  return `${formatIp(c.bytes)}/${c.prefix}`;
}

/** Canonical network text "10.0.0.0/24" of any address in it. */
export function networkOf(cidr: string): string {
  const c = parseCidr(cidr);
  return formatCidr({ bytes: maskBytes(c.bytes, c.prefix), prefix: c.prefix });
}

/** Parses "aa:bb:cc:dd:ee:ff" (or with dashes); throws NetlinkError(EINVAL). */
export function parseMac(s: string): Uint8Array {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw invalid("MAC address", s);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Formats hardware address bytes as lower-case colon hex. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
