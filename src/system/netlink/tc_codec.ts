/**
 * RTM_*QDISC and RTM_*TFILTER requests and replies for pod bandwidth limits
 * (linux/rtnetlink.h, pkt_sched.h, pkt_cls.h, tc_act/tc_mirred.h): a TBF at
 * a device's root with the rate's link layer set to Ethernet (so the kernel
 * needs no rate table: tbf_change only reads TCA_TBF_RTAB for
 * TC_LINKLAYER_UNAWARE), the ingress qdisc, a u32 match-all filter whose
 * mirred action redirects to another device, and the dumps CHECK reads.
 * Each request carries what iproute2's tc sends for the same command, minus
 * the rate table. Pure.
 * @module
 */

import {
  type Attrs,
  getString,
  getU32,
  type MessageBuilder,
  type NlMsg,
  parseAttrs,
} from "./message.ts";
import type { TbfParams } from "./tc_math.ts";
import { TC_H_INGRESS, TC_H_ROOT } from "./tc_math.ts";

/** Message types. */
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_GETQDISC = 38;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

/** struct tcmsg. */
export const TCMSG_LEN = 20;

/** TCA_* attributes of a qdisc or filter. */
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;

/** TCA_TBF_* (inside TCA_OPTIONS of a tbf). */
export const TCA_TBF_PARMS = 1;
export const TCA_TBF_RATE64 = 4;
export const TCA_TBF_BURST = 6;
/** struct tc_tbf_qopt: rate and peakrate (struct tc_ratespec, 12 bytes each), limit, buffer, mtu. */
export const TC_TBF_QOPT_LEN = 36;
export const TC_LINKLAYER_ETHERNET = 1;

/** TCA_U32_* (inside TCA_OPTIONS of a u32 filter). */
export const TCA_U32_SEL = 5;
export const TCA_U32_ACT = 7;
export const TC_U32_TERMINAL = 1;
/** struct tc_u32_sel (16 bytes) plus one struct tc_u32_key (16 bytes). */
export const TC_U32_SEL_ONE_KEY_LEN = 32;

/** TCA_ACT_* of one action, and mirred's. */
export const TCA_ACT_KIND = 1;
export const TCA_ACT_OPTIONS = 2;
export const TCA_MIRRED_PARMS = 2;
/** struct tc_mirred: struct tc_gen (index, capab, action, refcnt, bindcnt), eaction, ifindex. */
export const TC_MIRRED_LEN = 28;
export const TCA_EGRESS_REDIR = 1;
export const TC_ACT_STOLEN = 4;

/** ETH_P_ALL in network byte order, as a u16 read in host order (tc's `protocol all`). */
export const ETH_P_ALL_BE = 0x0300;

/** Handle of a TBF added as `root handle 1:`. */
export const TBF_HANDLE = 0x0001_0000;
/** Handle of the ingress qdisc (ffff:), the parent of its filters. */
export const INGRESS_HANDLE = 0xffff_0000;
/** tc's `filter show ... ingress` parent: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS). */
export const INGRESS_FILTERS = 0xffff_fff2;

/** Fields of struct tcmsg. */
export interface TcMsg {
  ifindex: number;
  handle: number;
  parent: number;
  /** Filters: TC_H_MAKE(prio << 16, protocol). */
  info?: number;
}

/** Appends a struct tcmsg (family AF_UNSPEC). */
export function putTcMsg(b: MessageBuilder, h: TcMsg): void {
  const at = b.reserve(TCMSG_LEN);
  b.setI32(at + 4, h.ifindex)
    .setU32(at + 8, h.handle)
    .setU32(at + 12, h.parent)
    .setU32(at + 16, h.info ?? 0);
}

/** Reads the struct tcmsg at the start of a reply body. */
export function getTcMsg(body: Uint8Array): TcMsg {
  return {
    ifindex: getU32(body, 4) | 0,
    handle: getU32(body, 8),
    parent: getU32(body, 12),
    info: getU32(body, 16),
  };
}

/** struct tc_tbf_qopt of `p`: rate spec as tc_calc_rtable leaves it, no peak rate. */
export function tbfQopt(p: TbfParams): Uint8Array {
  const out = new Uint8Array(TC_TBF_QOPT_LEN);
  const v = new DataView(out.buffer);
  // rate: cell_log 3 and cell_align -1 (tc's for its default 2047-byte mtu; the
  // kernel ignores both for an Ethernet link layer), overhead 0, mpu 0.
  v.setUint8(0, 3);
  v.setUint8(1, TC_LINKLAYER_ETHERNET);
  v.setInt16(4, -1, true);
  v.setUint32(8, Math.min(p.rate, 0xffff_ffff), true);
  v.setUint32(24, p.limit, true);
  v.setUint32(28, p.buffer, true);
  return out;
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
}

/** RTM_NEWQDISC body: a TBF at the root of `ifindex` (handle 1:). */
export function encodeTbf(b: MessageBuilder, ifindex: number, p: TbfParams): void {
  putTcMsg(b, { ifindex, handle: TBF_HANDLE, parent: TC_H_ROOT });
  b.attrString(TCA_KIND, "tbf");
  b.nestStart(TCA_OPTIONS);
  b.attr(TCA_TBF_PARMS, tbfQopt(p));
  b.attrU32(TCA_TBF_BURST, p.burst);
  if (p.rate > 0xffff_ffff) b.attr(TCA_TBF_RATE64, u64(p.rate));
  b.nestEnd();
}

/** RTM_NEWQDISC body: the ingress qdisc of `ifindex`. */
export function encodeIngress(b: MessageBuilder, ifindex: number): void {
  putTcMsg(b, { ifindex, handle: INGRESS_HANDLE, parent: TC_H_INGRESS });
  b.attrString(TCA_KIND, "ingress");
}

/** struct tc_u32_sel with one key matching every packet (`match u32 0 0`), terminal. */
export function matchAllSel(): Uint8Array {
  const out = new Uint8Array(TC_U32_SEL_ONE_KEY_LEN);
  out[0] = TC_U32_TERMINAL;
  out[2] = 1; // nkeys; the key (mask, val, off, offmask) is all zero
  return out;
}

/** struct tc_mirred redirecting to `ifindex` on its egress, the packet stolen. */
export function mirredRedirect(ifindex: number): Uint8Array {
  const out = new Uint8Array(TC_MIRRED_LEN);
  const v = new DataView(out.buffer);
  v.setInt32(8, TC_ACT_STOLEN, true);
  v.setInt32(20, TCA_EGRESS_REDIR, true);
  v.setUint32(24, ifindex, true);
  return out;
}

/**
 * RTM_NEWTFILTER body: on `ifindex`'s ingress (parent ffff:), every protocol,
 * priority left to the kernel (49152), a u32 match-all whose one action is
 * mirred egress redirect to `to`.
 */
export function encodeRedirect(b: MessageBuilder, ifindex: number, to: number): void {
  putTcMsg(b, { ifindex, handle: 0, parent: INGRESS_HANDLE, info: ETH_P_ALL_BE });
  b.attrString(TCA_KIND, "u32");
  b.nestStart(TCA_OPTIONS);
  b.nestStart(TCA_U32_ACT);
  b.nestStart(1); // actions are numbered from 1
  b.attrString(TCA_ACT_KIND, "mirred");
  b.nestStart(TCA_ACT_OPTIONS, true);
  b.attr(TCA_MIRRED_PARMS, mirredRedirect(to));
  b.nestEnd().nestEnd().nestEnd();
  b.attr(TCA_U32_SEL, matchAllSel());
  b.nestEnd();
}

/** RTM_GETQDISC dump body (every device: the kernel does not filter by ifindex). */
export function encodeDumpQdiscs(b: MessageBuilder): void {
  putTcMsg(b, { ifindex: 0, handle: 0, parent: 0 });
}

/** RTM_GETTFILTER dump body: the filters of `ifindex`'s ingress. */
export function encodeDumpIngressFilters(b: MessageBuilder, ifindex: number): void {
  putTcMsg(b, { ifindex, handle: 0, parent: INGRESS_FILTERS });
}

/** A decoded qdisc: its device, kind, handles and, for a TBF, its parameters. */
export interface QdiscReply {
  ifindex: number;
  kind: string;
  handle: number;
  parent: number;
  tbf?: { rate: number; limit: number; buffer: number };
}

function readU64(b: Uint8Array): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
}

function nested(a: Attrs, type: number): Attrs {
  const b = a.get(type);
  return b ? parseAttrs(b) : new Map();
}

/** Decodes an RTM_NEWQDISC reply; undefined for any other message. */
export function decodeQdisc(m: NlMsg): QdiscReply | undefined {
  if (m.type !== RTM_NEWQDISC || m.body.length < TCMSG_LEN) return undefined;
  const h = getTcMsg(m.body);
  const attrs = parseAttrs(m.body, TCMSG_LEN);
  const kind = attrs.get(TCA_KIND);
  const out: QdiscReply = {
    ifindex: h.ifindex,
    kind: kind ? getString(kind) : "",
    handle: h.handle,
    parent: h.parent,
  };
  if (out.kind !== "tbf") return out;
  const opts = nested(attrs, TCA_OPTIONS);
  const parms = opts.get(TCA_TBF_PARMS);
  if (!parms || parms.length < TC_TBF_QOPT_LEN) return out;
  const rate64 = opts.get(TCA_TBF_RATE64);
  out.tbf = {
    rate: rate64 && rate64.length >= 8 ? readU64(rate64) : getU32(parms, 8),
    limit: getU32(parms, 24),
    buffer: getU32(parms, 28),
  };
  return out;
}

/** A decoded filter: its device, kind and the devices its mirred actions redirect to. */
export interface FilterReply {
  ifindex: number;
  kind: string;
  /** ifindex of each mirred action's target, in action order. */
  mirredTo: number[];
}

/** Decodes an RTM_NEWTFILTER reply; undefined for any other message. */
export function decodeFilter(m: NlMsg): FilterReply | undefined {
  if (m.type !== RTM_NEWTFILTER || m.body.length < TCMSG_LEN) return undefined;
  const h = getTcMsg(m.body);
  const attrs = parseAttrs(m.body, TCMSG_LEN);
  const kind = attrs.get(TCA_KIND);
  const out: FilterReply = { ifindex: h.ifindex, kind: kind ? getString(kind) : "", mirredTo: [] };
  if (out.kind !== "u32") return out;
  const acts = nested(nested(attrs, TCA_OPTIONS), TCA_U32_ACT);
  for (const [, raw] of [...acts].sort(([a], [b]) => a - b)) {
    const act = parseAttrs(raw);
    const k = act.get(TCA_ACT_KIND);
    if (!k || getString(k) !== "mirred") continue;
    const parms = nested(act, TCA_ACT_OPTIONS).get(TCA_MIRRED_PARMS);
    if (parms && parms.length >= TC_MIRRED_LEN) out.mirredTo.push(getU32(parms, 24));
  }
  return out;
}
