/**
 * Byte-level IP, CIDR and MAC conversions for netlink messages. Text is
 * parsed by src/net (the one address parser; a dotted quad takes its fast
 * path, so the plugin's hot path stays cheap) and only packed into bytes here;
 * formatting follows inet_ntop so strings compare equal to `ip -j` output.
 * @module
 */

import { type Family, formatV6Groups, tryParseIp } from "../../net/address.ts";
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

/** Parses "10.0.0.1" or "fd00::1" (src/net's parser); throws NetlinkError(EINVAL) on bad syntax. */
export function parseIp(s: string): IpBytes {
  const p = tryParseIp(s);
  if (!p) throw invalid("IP address", s);
  const bytes = new Uint8Array(p.family === 4 ? 4 : 16);
  if (p.family === 4) {
    const n = Number(p.value);
    bytes[0] = n >>> 24;
    bytes[1] = (n >>> 16) & 255;
    bytes[2] = (n >>> 8) & 255;
    bytes[3] = n & 255;
  } else {
    let v = p.value;
    for (let i = 15; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  }
  return { family: p.family, bytes };
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

/**
 * Formats 4 or 16 bytes like inet_ntop: src/net's RFC 5952 text, except that
 * IPv4-mapped and -compatible addresses keep their dotted tail ("::ffff:1.2.3.4"),
 * as `ip -j` prints them.
 */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0) {
    const tail = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    if (w[5] === 0xffff) return `::ffff:${tail}`;
    if (w[5] === 0 && w[6] !== 0) return `::${tail}`;
  }
  return formatV6Groups(w);
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

/** True when the address bytes `ip` lie inside the block `net` (src/net's `cidrContainsIp` on bytes). */
export function bytesContainIp(net: CidrBytes, ip: IpBytes): boolean {
  if (net.family !== ip.family) return false;
  const a = maskBytes(net.bytes, net.prefix);
  const b = maskBytes(ip.bytes, net.prefix);
  return a.every((x, i) => x === b[i]);
}

/** Canonical "addr/prefix" text of a cidr. */
export function formatCidr(c: { bytes: Uint8Array; prefix: number }): string {
  return `${formatIp(c.bytes)}/${c.prefix}`;
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
