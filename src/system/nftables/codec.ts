/**
 * nf_tables set-element messages: the batch that adds and deletes elements,
 * the get and dump requests, and the decoding of listed elements. Pure: every
 * byte layout is unit tested without root.
 * @module
 */

import {
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
} from "../netlink/constants.ts";
import { align4, getString, getU16, MessageBuilder, type NlMsg } from "../netlink/message.ts";
import {
  FAMILIES,
  MAX_COMMENT,
  NFGENMSG_LEN,
  NFNETLINK_V0,
  NFNL_MSG_BATCH_BEGIN,
  NFNL_MSG_BATCH_END,
  NFNL_SUBSYS_NFTABLES,
  NFT_MSG_DELSETELEM,
  NFT_MSG_GETSETELEM,
  NFT_MSG_NEWSETELEM,
  NFTA_DATA_VALUE,
  NFTA_LIST_ELEM,
  NFTA_SET_ELEM_DATA,
  NFTA_SET_ELEM_KEY,
  NFTA_SET_ELEM_LIST_ELEMENTS,
  NFTA_SET_ELEM_LIST_SET,
  NFTA_SET_ELEM_LIST_TABLE,
  NFTA_SET_ELEM_USERDATA,
  NFTNL_UDATA_SET_ELEM_COMMENT,
} from "./constants.ts";
import type { NftFamily, SetElement, SetElementOp, SetRef } from "./types.ts";

const encoder = new TextEncoder();

/** The nlmsghdr type of an nf_tables message. */
export function nftType(msg: number): number {
  return (NFNL_SUBSYS_NFTABLES << 8) | msg;
}

/** Writes struct nfgenmsg (res_id in network byte order). */
function nfgen(b: MessageBuilder, family: number, resId = 0): void {
  const at = b.reserve(NFGENMSG_LEN);
  b.setU8(at, family).setU8(at + 1, NFNETLINK_V0);
  b.setU8(at + 2, resId >> 8).setU8(at + 3, resId & 0xff);
}

/** Element userdata holding one comment TLV, as libnftnl writes it. */
export function commentUserdata(comment: string): Uint8Array {
  const b = encoder.encode(comment);
  if (b.length > MAX_COMMENT || b.includes(0)) {
    throw new Error(`Cannot encode element comment: longer than ${MAX_COMMENT} bytes or has NUL`);
  }
  const out = new Uint8Array(2 + b.length + 1);
  out[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
  out[1] = b.length + 1;
  out.set(b, 2);
  return out;
}

/** The comment TLV of element userdata, if any. */
export function parseCommentUserdata(u: Uint8Array): string | undefined {
  let at = 0;
  while (at + 2 <= u.length) {
    const type = u[at]!;
    const len = u[at + 1]!;
    if (at + 2 + len > u.length) return undefined;
    if (type === NFTNL_UDATA_SET_ELEM_COMMENT) return getString(u.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return undefined;
}

function header(b: MessageBuilder, ref: SetRef): void {
  nfgen(b, FAMILIES[ref.family]);
  b.attrString(NFTA_SET_ELEM_LIST_TABLE, ref.table);
  b.attrString(NFTA_SET_ELEM_LIST_SET, ref.set);
}

function element(b: MessageBuilder, e: { key: Uint8Array; data?: Uint8Array; comment?: string }) {
  b.nestStart(NFTA_SET_ELEM_LIST_ELEMENTS, true);
  b.nestStart(NFTA_LIST_ELEM, true);
  b.nestStart(NFTA_SET_ELEM_KEY, true).attr(NFTA_DATA_VALUE, e.key).nestEnd();
  if (e.data) b.nestStart(NFTA_SET_ELEM_DATA, true).attr(NFTA_DATA_VALUE, e.data).nestEnd();
  if (e.comment !== undefined) b.attr(NFTA_SET_ELEM_USERDATA, commentUserdata(e.comment));
  b.nestEnd().nestEnd();
}

/** An encoded batch and the sequence number of each of its messages. */
export interface EncodedBatch {
  bytes: Uint8Array;
  begin: number;
  /** One per op, in order. */
  ops: number[];
  end: number;
}

/**
 * One transaction: BATCH_BEGIN (res_id NFNL_SUBSYS_NFTABLES), one
 * NEWSETELEM/DELSETELEM per op with NLM_F_ACK (so the kernel answers each
 * and names the one it refuses), BATCH_END. Sequence numbers start at
 * `firstSeq` and run through `firstSeq + ops.length + 1`.
 */
export function encodeBatch(ops: readonly SetElementOp[], firstSeq: number): EncodedBatch {
  const parts: Uint8Array[] = [];
  const b = new MessageBuilder(256);
  let seq = firstSeq >>> 0;
  const next = () => {
    const s = seq;
    seq = (seq + 1) >>> 0;
    return s;
  };
  const begin = next();
  b.begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, begin);
  nfgen(b, 0, NFNL_SUBSYS_NFTABLES);
  parts.push(b.finish().slice());
  const opSeqs: number[] = [];
  for (const op of ops) {
    const s = next();
    opSeqs.push(s);
    if (op.op === "add") {
      const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (op.exclusive ? NLM_F_EXCL : 0);
      b.begin(nftType(NFT_MSG_NEWSETELEM), flags, s);
      header(b, op);
      element(b, op);
    } else {
      b.begin(nftType(NFT_MSG_DELSETELEM), NLM_F_REQUEST | NLM_F_ACK, s);
      header(b, op);
      element(b, { key: op.key });
    }
    parts.push(b.finish().slice());
  }
  const end = next();
  b.begin(NFNL_MSG_BATCH_END, NLM_F_REQUEST, end);
  nfgen(b, 0, NFNL_SUBSYS_NFTABLES);
  parts.push(b.finish().slice());
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, begin, ops: opSeqs, end };
}

/** Fills `b` (begun by the socket) with a GETSETELEM dump of `ref`. */
export function encodeListBody(b: MessageBuilder, ref: SetRef): void {
  header(b, ref);
}

/** Fills `b` with a GETSETELEM of the one element `key`. */
export function encodeGetBody(b: MessageBuilder, ref: SetRef, key: Uint8Array): void {
  header(b, ref);
  element(b, { key });
}

/** Flags of the list (dump) and get requests. */
export const LIST_FLAGS = NLM_F_REQUEST | NLM_F_DUMP;
export const GET_FLAGS = NLM_F_REQUEST;
/** Message type of both. */
export const GETSETELEM = nftType(NFT_MSG_GETSETELEM);
export const NEWSETELEM = nftType(NFT_MSG_NEWSETELEM);

/** Every attribute of `buf` from `offset`, in order, duplicates kept. */
export function attrList(buf: Uint8Array, offset = 0): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  let off = offset;
  while (off + 4 <= buf.length) {
    const len = getU16(buf, off);
    if (len < 4 || off + len > buf.length) break;
    out.push([getU16(buf, off + 2) & 0x3fff, buf.subarray(off + 4, off + len)]);
    off += align4(len);
  }
  return out;
}

function value(nest: Uint8Array | undefined): Uint8Array | undefined {
  if (!nest) return undefined;
  const v = attrList(nest).find(([t]) => t === NFTA_DATA_VALUE);
  return v ? v[1].slice() : undefined;
}

/** Family name of an NFPROTO number. */
export function familyName(n: number): NftFamily | undefined {
  return (Object.keys(FAMILIES) as NftFamily[]).find((k) => FAMILIES[k] === n);
}

/** The elements of one NEWSETELEM message (a dump reply or a get reply); [] for others. */
export function decodeElements(m: NlMsg): SetElement[] {
  if (m.type !== NEWSETELEM) return [];
  const out: SetElement[] = [];
  for (const [t, list] of attrList(m.body, NFGENMSG_LEN)) {
    if (t !== NFTA_SET_ELEM_LIST_ELEMENTS) continue;
    for (const [lt, el] of attrList(list)) {
      if (lt !== NFTA_LIST_ELEM) continue;
      const attrs = new Map(attrList(el));
      const key = value(attrs.get(NFTA_SET_ELEM_KEY));
      if (!key) continue;
      const e: SetElement = { key };
      const data = value(attrs.get(NFTA_SET_ELEM_DATA));
      if (data) e.data = data;
      const ud = attrs.get(NFTA_SET_ELEM_USERDATA);
      const comment = ud ? parseCommentUserdata(ud) : undefined;
      if (comment !== undefined) e.comment = comment;
      out.push(e);
    }
  }
  return out;
}
