/**
 * Set keys and map data as the kernel stores them, for the datatypes
 * hostgate uses. Pure. A single-field key is the datatype's own bytes
 * (ifname 16, ether_addr 6, ipv4_addr 4, ipv6_addr 16, inet_proto 1,
 * inet_service 2 big-endian); in a concatenation (`a . b`) every field takes
 * whole 4-byte registers, zero-padded after its bytes, which is what nft
 * computes for `type ifname . ether_addr` (24 bytes).
 * @module
 */

import { formatIp, formatMac, parseIp, parseMac } from "../netlink/mod.ts";

/** A field of a key: a datatype nft names, or raw bytes of a given length (`@th,64,128`). */
export type KeyField =
  | "ifname"
  | "ether_addr"
  | "ipv4_addr"
  | "ipv6_addr"
  | "inet_proto"
  | "inet_service"
  | { raw: number };

/** A field's value: names and addresses as text, numbers for proto and port, bytes for raw. */
export type KeyValue = string | number | Uint8Array;

const IFNAMSIZ = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Byte length of one field. */
export function fieldLen(f: KeyField): number {
  if (typeof f === "object") return f.raw;
  switch (f) {
    case "ifname":
    case "ipv6_addr":
      return 16;
    case "ether_addr":
      return 6;
    case "ipv4_addr":
      return 4;
    case "inet_proto":
      return 1;
    case "inet_service":
      return 2;
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Total key length of `fields` (single field: exact; concatenation: register-padded). */
export function keyLen(fields: readonly KeyField[]): number {
  if (fields.length === 1) return fieldLen(fields[0]!);
  return fields.reduce((n, f) => n + pad4(fieldLen(f)), 0);
}

function fieldName(f: KeyField): string {
  return typeof f === "object" ? `raw(${f.raw})` : f;
}

function bad(f: KeyField, v: unknown, why: string): Error {
  return new Error(`Cannot encode ${fieldName(f)} ${JSON.stringify(String(v))}: ${why}`);
}

/** An interface name: up to 15 bytes, NUL-padded to IFNAMSIZ. */
export function ifnameBytes(name: string): Uint8Array {
  const b = encoder.encode(name);
  if (b.length === 0 || b.length >= IFNAMSIZ || b.includes(0)) {
    throw bad("ifname", name, "not an interface name (1-15 bytes)");
  }
  const out = new Uint8Array(IFNAMSIZ);
  out.set(b);
  return out;
}

function encodeField(f: KeyField, v: KeyValue): Uint8Array {
  if (typeof f === "object") {
    if (!(v instanceof Uint8Array) || v.length !== f.raw) throw bad(f, v, `not ${f.raw} bytes`);
    return v;
  }
  switch (f) {
    case "ifname":
      if (typeof v !== "string") throw bad(f, v, "not a string");
      return ifnameBytes(v);
    case "ether_addr":
      if (typeof v !== "string" || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v)) {
        throw bad(f, v, "not a MAC address");
      }
      return parseMac(v);
    case "ipv4_addr":
    case "ipv6_addr": {
      const family = f === "ipv4_addr" ? 4 : 6;
      let ip: { family: number; bytes: Uint8Array } | undefined;
      try {
        ip = typeof v === "string" ? parseIp(v) : undefined;
      } catch {
        ip = undefined;
      }
      if (!ip || ip.family !== family) throw bad(f, v, `not an IPv${family} address`);
      return ip.bytes;
    }
    case "inet_proto":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 255) {
        throw bad(f, v, "not a protocol number 0-255");
      }
      return Uint8Array.of(v);
    case "inet_service":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) {
        throw bad(f, v, "not a port 0-65535");
      }
      return Uint8Array.of(v >> 8, v & 0xff);
  }
}

/** Encodes `values` as a key (or map data) of `fields`. */
export function encodeKey(fields: readonly KeyField[], values: readonly KeyValue[]): Uint8Array {
  if (fields.length === 0 || fields.length !== values.length) {
    throw new Error(
      `Cannot encode key: ${values.length} values for ${fields.length} fields`,
    );
  }
  const out = new Uint8Array(keyLen(fields));
  const concat = fields.length > 1;
  let at = 0;
  fields.forEach((f, i) => {
    const b = encodeField(f, values[i]!);
    out.set(b, at);
    at += concat ? pad4(b.length) : b.length;
  });
  return out;
}

function decodeField(f: KeyField, b: Uint8Array): KeyValue {
  if (typeof f === "object") return b.slice();
  switch (f) {
    case "ifname": {
      const end = b.indexOf(0);
      return decoder.decode(end < 0 ? b : b.subarray(0, end));
    }
    case "ether_addr":
      return formatMac(b);
    case "ipv4_addr":
    case "ipv6_addr":
      return formatIp(b);
    case "inet_proto":
      return b[0]!;
    case "inet_service":
      return (b[0]! << 8) | b[1]!;
  }
}

/** Decodes a key of `fields`; throws when its length is not the fields' length. */
export function decodeKey(fields: readonly KeyField[], key: Uint8Array): KeyValue[] {
  if (key.length !== keyLen(fields)) {
    throw new Error(
      `Cannot decode key of ${fields.map(fieldName).join(" . ")}: ` +
        `${key.length} bytes, not ${keyLen(fields)}`,
    );
  }
  const concat = fields.length > 1;
  let at = 0;
  return fields.map((f) => {
    const n = fieldLen(f);
    const v = decodeField(f, key.subarray(at, at + n));
    at += concat ? pad4(n) : n;
    return v;
  });
}
