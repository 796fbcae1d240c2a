/**
 * Netlink wire format: a reusable message builder (nlmsghdr, fixed family
 * headers, nested rtattrs) and zero-copy parsers. Pure: no system calls, so
 * every byte layout is unit tested without root. Netlink uses host byte order
 * (little endian on the platforms hostgate targets) except where an attribute
 * says otherwise (e.g. IFLA_VXLAN_PORT).
 * @module
 */

import {
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
} from "./constants.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Rounds up to the 4-byte netlink alignment. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Builds one request in a growable buffer that is reused across requests, so
 * a handle allocates nothing per call once warmed up.
 */
export class MessageBuilder {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;
  #nests: number[] = [];

  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  #ensure(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #pad(): void {
    const to = align4(this.#len);
    this.#ensure(to - this.#len);
    this.#buf.fill(0, this.#len, to);
    this.#len = to;
  }

  /** Starts a message: writes the nlmsghdr (length is fixed up by `finish`). */
  begin(type: number, flags: number, seq: number): this {
    this.#len = 0;
    this.#nests.length = 0;
    this.#ensure(NLMSG_HDRLEN);
    this.#buf.fill(0, 0, NLMSG_HDRLEN);
    this.#view.setUint16(4, type, true);
    this.#view.setUint16(6, flags, true);
    this.#view.setUint32(8, seq, true);
    this.#len = NLMSG_HDRLEN;
    return this;
  }

  /** Appends `n` zero bytes (for a fixed header) and returns their offset. */
  reserve(n: number): number {
    this.#ensure(n);
    const at = this.#len;
    this.#buf.fill(0, at, at + n);
    this.#len += n;
    return at;
  }

  /** Raw fixed-header writers at an offset returned by `reserve`. */
  setU8(at: number, v: number): this {
    this.#view.setUint8(at, v);
    return this;
  }
  setU16(at: number, v: number): this {
    this.#view.setUint16(at, v, true);
    return this;
  }
  setU32(at: number, v: number): this {
    this.#view.setUint32(at, v >>> 0, true);
    return this;
  }
  setI32(at: number, v: number): this {
    this.#view.setInt32(at, v, true);
    return this;
  }

  /** Appends an attribute with a raw payload. */
  attr(type: number, payload: Uint8Array): this {
    const len = 4 + payload.length;
    this.#pad();
    this.#ensure(align4(len));
    this.#view.setUint16(this.#len, len, true);
    this.#view.setUint16(this.#len + 2, type, true);
    this.#buf.set(payload, this.#len + 4);
    this.#len += len;
    this.#pad();
    return this;
  }

  #fixed(type: number, size: number): number {
    this.#pad();
    this.#ensure(4 + size);
    this.#view.setUint16(this.#len, 4 + size, true);
    this.#view.setUint16(this.#len + 2, type, true);
    const at = this.#len + 4;
    this.#len += 4 + size;
    this.#pad();
    return at;
  }

  attrU8(type: number, v: number): this {
    this.#view.setUint8(this.#fixed(type, 1), v);
    return this;
  }
  attrU16(type: number, v: number): this {
    this.#view.setUint16(this.#fixed(type, 2), v, true);
    return this;
  }
  /** A 16-bit value in network byte order (ports). */
  attrBe16(type: number, v: number): this {
    this.#view.setUint16(this.#fixed(type, 2), v, false);
    return this;
  }
  attrU32(type: number, v: number): this {
    this.#view.setUint32(this.#fixed(type, 4), v >>> 0, true);
    return this;
  }
  /** A NUL-terminated string. */
  attrString(type: number, s: string): this {
    const bytes = encoder.encode(s);
    const at = this.#fixed(type, bytes.length + 1);
    this.#buf.set(bytes, at);
    this.#buf[at + bytes.length] = 0;
    return this;
  }

  /** Opens a nested attribute; `flagNested` sets NLA_F_NESTED. */
  nestStart(type: number, flagNested = false): this {
    this.#pad();
    this.#ensure(4);
    this.#nests.push(this.#len);
    this.#view.setUint16(this.#len + 2, flagNested ? type | NLA_F_NESTED : type, true);
    this.#len += 4;
    return this;
  }

  /** Closes the innermost nested attribute. */
  nestEnd(): this {
    const at = this.#nests.pop();
    if (at === undefined) throw new Error("Cannot close attribute nest: none open");
    this.#pad();
    this.#view.setUint16(at, this.#len - at, true);
    return this;
  }

  /** Fixes the length and returns the message (a view valid until the next `begin`). */
  finish(): Uint8Array {
    if (this.#nests.length) throw new Error("Cannot finish message: attribute nest open");
    this.#pad();
    this.#view.setUint32(0, this.#len, true);
    return this.#buf.subarray(0, this.#len);
  }
}

/** One received message; `body` is a view into the receive buffer. */
export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  body: Uint8Array;
}

/** Splits a datagram into its messages (views, no copies). */
export function parseMessages(buf: Uint8Array): NlMsg[] {
  const out: NlMsg[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = view.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({
      type: view.getUint16(off + 4, true),
      flags: view.getUint16(off + 6, true),
      seq: view.getUint32(off + 8, true),
      pid: view.getUint32(off + 12, true),
      body: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (flags masked off); payloads are views. */
export type Attrs = Map<number, Uint8Array>;

/** Parses the rtattrs of `buf` starting at `offset`. Later duplicates win. */
export function parseAttrs(buf: Uint8Array, offset = 0): Attrs {
  const out: Attrs = new Map();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = offset;
  while (off + 4 <= buf.length) {
    const len = view.getUint16(off, true);
    if (len < 4 || off + len > buf.length) break;
    out.set(view.getUint16(off + 2, true) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** Little-endian readers over a payload or a fixed header. */
export function getU8(b: Uint8Array, at = 0): number {
  return b[at]!;
}
export function getU16(b: Uint8Array, at = 0): number {
  return b[at]! | (b[at + 1]! << 8);
}
export function getBe16(b: Uint8Array, at = 0): number {
  return (b[at]! << 8) | b[at + 1]!;
}
export function getU32(b: Uint8Array, at = 0): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}
export function getI32(b: Uint8Array, at = 0): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}
/** A NUL-terminated string attribute. */
export function getString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return decoder.decode(end < 0 ? b : b.subarray(0, end));
}

/** What an NLMSG_ERROR carries: 0 for an ACK, else the positive errno. */
export interface NlError {
  errno: number;
  /** Extended ACK text from the kernel (NETLINK_EXT_ACK), when given. */
  message?: string;
}

/** Decodes an NLMSG_ERROR body (int error, the request header or message, TLVs). */
export function parseError(msg: NlMsg): NlError {
  const errno = -getI32(msg.body, 0) || 0;
  if (errno === 0 || !(msg.flags & NLM_F_ACK_TLVS)) return { errno };
  const reqLen = getU32(msg.body, 4);
  const skip = 4 + (msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(reqLen));
  const text = parseAttrs(msg.body, skip).get(NLMSGERR_ATTR_MSG);
  return text ? { errno, message: getString(text) } : { errno };
}
