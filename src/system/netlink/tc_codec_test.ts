/**
 * The tc requests byte by byte (struct tcmsg, tc_tbf_qopt, tc_u32_sel,
 * tc_mirred as the kernel reads them) and the decoders on replies the kernel
 * sent (captured from a 6.18 kernel: `tc qdisc add dev v0 root handle 1: tbf
 * rate 20000000bit burst 50000 latency 25ms`, `tc qdisc add dev v0 ingress`,
 * `tc filter add dev v0 parent ffff: protocol all u32 match u32 0 0 action
 * mirred egress redirect dev ifb0`, v0 index 3, ifb0 index 4).
 * @module
 */
import assert from "node:assert/strict";
import { NLA_F_NESTED } from "./constants.ts";
import {
  getString,
  getU32,
  MessageBuilder,
  type NlMsg,
  parseAttrs,
  parseMessages,
} from "./message.ts";
import {
  decodeFilter,
  decodeQdisc,
  encodeDumpIngressFilters,
  encodeDumpQdiscs,
  encodeIngress,
  encodeRedirect,
  encodeTbf,
  getTcMsg,
  matchAllSel,
  mirredRedirect,
  RTM_NEWQDISC,
  RTM_NEWTFILTER,
  tbfQopt,
  TCA_ACT_KIND,
  TCA_ACT_OPTIONS,
  TCA_KIND,
  TCA_MIRRED_PARMS,
  TCA_OPTIONS,
  TCA_TBF_BURST,
  TCA_TBF_PARMS,
  TCA_TBF_RATE64,
  TCA_U32_ACT,
  TCA_U32_SEL,
  TCMSG_LEN,
} from "./tc_codec.ts";
import { tbfParams } from "./tc_math.ts";

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  return new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));
}

function build(type: number, body: (b: MessageBuilder) => void): NlMsg {
  const b = new MessageBuilder().begin(type, 0, 1);
  body(b);
  const msgs = parseMessages(b.finish().slice());
  assert.equal(msgs.length, 1);
  return msgs[0]!;
}

/** A reply as the kernel sends it: its body after the nlmsghdr. */
function reply(type: number, body: string): NlMsg {
  return { type, flags: 2, seq: 1, pid: 0, body: unhex(body) };
}

/** Attribute types as sent, NLA_F_NESTED kept. */
function rawTypes(buf: Uint8Array, offset = 0): number[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: number[] = [];
  for (let off = offset; off + 4 <= buf.length; off += (v.getUint16(off, true) + 3) & ~3) {
    out.push(v.getUint16(off + 2, true));
  }
  return out;
}

const KERNEL_TBF = "000000000300000000000100ffffffff0300000008000100746266002c00020028000100" +
  "0001000000000000a025260000000000000000000000000074b70100b4c4040000000000" +
  "05000c000000000030000700140001000000000000000000000000000000000018000300" +
  "00000000000000000000000000000000000000002c000300000000000000000000000000" +
  "00000000000000000000000000000000000000000000000000000000";
const KERNEL_INGRESS = "00000000030000000000fffff1ffffff010000000c000100696e67726573730004000200" +
  "05000c000000000030000700140001000000000000000000000000000000000018000300" +
  "00000000000000000000000000000000000000002c000300000000000000000000000000" +
  "00000000000000000000000000000000000000000000000000000000";
const KERNEL_U32_HT = "0000000003000000000000800000ffff000300c0080001007533320008000b0000000000" +
  "0c0002000800040001000000";
const KERNEL_U32_KNODE =
  "0000000003000000000800800000ffff000300c0080001007533320008000b0000000000" +
  "e00002002400050001000100000000000000000000000000000000000000000000000000" +
  "00000000080002000000008008000b0008000000a8000700a40001000b0001006d697272" +
  "656400004400040014000100000000000000000000000000000000001400070000000000" +
  "000000000000000000000000180003000000000000000000000000000000000000000000" +
  "08000a000000000048000200200002000100000000000000040000000100000001000000" +
  "0100000004000000240001002a000000000000002a000000000000000000000000000000" +
  "0000000000000000";

Deno.test("encodeTbf: tcmsg at the root, handle 1:, kind tbf, qopt with Ethernet link layer and the burst", () => {
  const p = tbfParams({ rateBits: 20_000_000, burst: 50_000, latencyUs: 25_000 });
  const m = build(RTM_NEWQDISC, (b) => encodeTbf(b, 3, p));
  assert.deepEqual(getTcMsg(m.body), {
    ifindex: 3,
    handle: 0x1_0000,
    parent: 0xffff_ffff,
    info: 0,
  });
  assert.equal(m.body[0], 0, "AF_UNSPEC");
  const attrs = parseAttrs(m.body, TCMSG_LEN);
  assert.equal(getString(attrs.get(TCA_KIND)!), "tbf");
  assert.deepEqual(
    rawTypes(m.body, TCMSG_LEN),
    [TCA_KIND, TCA_OPTIONS],
    "options unflagged, as tc",
  );
  const opts = parseAttrs(attrs.get(TCA_OPTIONS)!);
  assert.deepEqual([...opts.keys()], [TCA_TBF_PARMS, TCA_TBF_BURST], "no rate table, no RATE64");
  // cell_log 3, linklayer 1, overhead 0, cell_align -1, mpu 0, rate; no peak rate; limit, buffer, mtu.
  assert.equal(
    hex(opts.get(TCA_TBF_PARMS)!),
    "03010000ffff0000a0252600" + "000000000000000000000000" + "74b70100" + "b4c40400" + "00000000",
  );
  assert.equal(getU32(opts.get(TCA_TBF_BURST)!), 50_000);
  // The kernel kept what was sent: rate, limit and buffer of its own dump.
  const dumped = parseAttrs(parseAttrs(unhex(KERNEL_TBF), TCMSG_LEN).get(TCA_OPTIONS)!)
    .get(TCA_TBF_PARMS)!;
  assert.equal(hex(dumped.subarray(8, 12)), hex(tbfQopt(p).subarray(8, 12)));
  assert.equal(hex(dumped.subarray(24, 32)), hex(tbfQopt(p).subarray(24, 32)));
});

Deno.test("encodeTbf: at 2^32 bytes/s and above the rate goes as TCA_TBF_RATE64, the 32-bit field all ones", () => {
  const p = tbfParams({ rateBits: 8 * 2 ** 32, burst: 1_000_000, latencyUs: 25_000 });
  const m = build(RTM_NEWQDISC, (b) => encodeTbf(b, 7, p));
  const opts = parseAttrs(parseAttrs(m.body, TCMSG_LEN).get(TCA_OPTIONS)!);
  assert.equal(getU32(opts.get(TCA_TBF_PARMS)!, 8), 0xffff_ffff);
  assert.equal(hex(opts.get(TCA_TBF_RATE64)!), "0000000001000000");
  const below = tbfParams({ rateBits: 8 * (2 ** 32 - 1), burst: 1_000_000, latencyUs: 25_000 });
  const m2 = build(RTM_NEWQDISC, (b) => encodeTbf(b, 7, below));
  assert.equal(
    parseAttrs(parseAttrs(m2.body, TCMSG_LEN).get(TCA_OPTIONS)!).has(TCA_TBF_RATE64),
    false,
  );
});

Deno.test("encodeIngress: handle ffff:, parent TC_H_INGRESS, kind ingress, no options", () => {
  const m = build(RTM_NEWQDISC, (b) => encodeIngress(b, 3));
  assert.deepEqual(getTcMsg(m.body), {
    ifindex: 3,
    handle: 0xffff_0000,
    parent: 0xffff_fff1,
    info: 0,
  });
  assert.deepEqual(rawTypes(m.body, TCMSG_LEN), [TCA_KIND]);
  assert.equal(getString(parseAttrs(m.body, TCMSG_LEN).get(TCA_KIND)!), "ingress");
});

Deno.test("encodeRedirect: u32 on ffff:, protocol all, one terminal match-all key, mirred egress redirect", () => {
  const m = build(RTM_NEWTFILTER, (b) => encodeRedirect(b, 3, 4));
  assert.deepEqual(getTcMsg(m.body), { ifindex: 3, handle: 0, parent: 0xffff_0000, info: 0x0300 });
  const attrs = parseAttrs(m.body, TCMSG_LEN);
  assert.equal(getString(attrs.get(TCA_KIND)!), "u32");
  const opts = parseAttrs(attrs.get(TCA_OPTIONS)!);
  assert.equal(hex(opts.get(TCA_U32_SEL)!), "01000100" + "0".repeat(24) + "0".repeat(32));
  assert.deepEqual(opts.get(TCA_U32_SEL), matchAllSel());
  const acts = parseAttrs(opts.get(TCA_U32_ACT)!);
  assert.deepEqual([...acts.keys()], [1]);
  const act = acts.get(1)!;
  assert.deepEqual(rawTypes(act), [TCA_ACT_KIND, TCA_ACT_OPTIONS | NLA_F_NESTED]);
  const a = parseAttrs(act);
  assert.equal(getString(a.get(TCA_ACT_KIND)!), "mirred");
  const parms = parseAttrs(a.get(TCA_ACT_OPTIONS)!).get(TCA_MIRRED_PARMS)!;
  // tc_gen: index 0 (the kernel picks one), capab 0, action TC_ACT_STOLEN, refcnt, bindcnt; eaction, ifindex.
  assert.equal(
    hex(parms),
    "00000000" + "00000000" + "04000000" + "0".repeat(16) + "01000000" + "04000000",
  );
  assert.deepEqual(parms, mirredRedirect(4));
  // What the kernel reads back is that filter: decoding the request finds the redirect.
  assert.deepEqual(decodeFilter(m), { ifindex: 3, kind: "u32", mirredTo: [4] });
});

Deno.test("dump requests: all qdiscs; the ingress filters of one device", () => {
  const q = build(38, (b) => encodeDumpQdiscs(b));
  assert.equal(q.body.length, TCMSG_LEN);
  assert.deepEqual(getTcMsg(q.body), { ifindex: 0, handle: 0, parent: 0, info: 0 });
  const f = build(46, (b) => encodeDumpIngressFilters(b, 9));
  assert.deepEqual(getTcMsg(f.body), { ifindex: 9, handle: 0, parent: 0xffff_fff2, info: 0 });
});

Deno.test("decodeQdisc: the kernel's TBF and ingress replies; other messages are not qdiscs", () => {
  assert.deepEqual(decodeQdisc(reply(RTM_NEWQDISC, KERNEL_TBF)), {
    ifindex: 3,
    kind: "tbf",
    handle: 0x1_0000,
    parent: 0xffff_ffff,
    tbf: { rate: 2_500_000, limit: 112_500, buffer: 0x4c4b4 },
  });
  assert.deepEqual(decodeQdisc(reply(RTM_NEWQDISC, KERNEL_INGRESS)), {
    ifindex: 3,
    kind: "ingress",
    handle: 0xffff_0000,
    parent: 0xffff_fff1,
  });
  assert.equal(decodeQdisc(reply(RTM_NEWTFILTER, KERNEL_TBF)), undefined);
  assert.equal(decodeQdisc(reply(RTM_NEWQDISC, "0000")), undefined);
  // A TBF reply with RATE64 reports the 64-bit rate; one without parameters has none.
  const p = tbfParams({ rateBits: 40e9, burst: 5_000_000, latencyUs: 25_000 });
  const fast = build(RTM_NEWQDISC, (b) => encodeTbf(b, 5, p));
  assert.deepEqual(decodeQdisc(fast)!.tbf, { rate: 5e9, limit: p.limit, buffer: p.buffer });
  const bare = build(RTM_NEWQDISC, (b) => {
    b.reserve(TCMSG_LEN);
    b.attrString(TCA_KIND, "tbf");
  });
  assert.equal(decodeQdisc(bare)!.tbf, undefined);
});

Deno.test("decodeFilter: the kernel's u32 hash table has no redirect; its knode redirects to ifb0", () => {
  assert.deepEqual(decodeFilter(reply(RTM_NEWTFILTER, KERNEL_U32_HT)), {
    ifindex: 3,
    kind: "u32",
    mirredTo: [],
  });
  assert.deepEqual(decodeFilter(reply(RTM_NEWTFILTER, KERNEL_U32_KNODE)), {
    ifindex: 3,
    kind: "u32",
    mirredTo: [4],
  });
  assert.equal(decodeFilter(reply(RTM_NEWQDISC, KERNEL_U32_KNODE)), undefined);
  // Actions in their order; one that is not mirred is skipped; another classifier is not read.
  const two = build(RTM_NEWTFILTER, (b) => {
    b.reserve(TCMSG_LEN);
    b.attrString(TCA_KIND, "u32");
    b.nestStart(TCA_OPTIONS).nestStart(TCA_U32_ACT);
    b.nestStart(2).attrString(TCA_ACT_KIND, "mirred").nestStart(TCA_ACT_OPTIONS);
    b.attr(TCA_MIRRED_PARMS, mirredRedirect(8)).nestEnd().nestEnd();
    b.nestStart(1).attrString(TCA_ACT_KIND, "gact").nestEnd();
    b.nestEnd().nestEnd();
  });
  assert.deepEqual(decodeFilter(two)!.mirredTo, [8]);
  const other = build(RTM_NEWTFILTER, (b) => {
    b.reserve(TCMSG_LEN);
    b.attrString(TCA_KIND, "basic");
  });
  assert.deepEqual(decodeFilter(other)!.mirredTo, []);
});
