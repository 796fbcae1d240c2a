import assert from "node:assert/strict";
import { MessageBuilder, parseMessages } from "../netlink/message.ts";
import {
  attrList,
  commentUserdata,
  decodeElements,
  encodeBatch,
  NEWSETELEM,
  parseCommentUserdata,
} from "./codec.ts";
import { encodeKey } from "./key.ts";
import type { SetElementOp } from "./types.ts";

const REF = { family: "inet", table: "hostgate-guard", set: "addr4" } as const;
const KEY = encodeKey(["ifname", "ipv4_addr"], ["hg0123456789ab", "10.22.0.5"]);

Deno.test("codec: a batch is BEGIN, one acked message per op, END, with consecutive seqs", () => {
  const ops: SetElementOp[] = [
    { op: "add", ...REF, key: KEY, comment: "ctr1 eth0", exclusive: true },
    { op: "delete", ...REF, key: KEY },
  ];
  const b = encodeBatch(ops, 100);
  assert.deepEqual([b.begin, b.ops, b.end], [100, [101, 102], 103]);
  const msgs = parseMessages(b.bytes);
  assert.deepEqual(msgs.map((m) => [m.type, m.flags, m.seq]), [
    [0x10, 0x1, 100],
    [0x0a0c, 0x1 | 0x4 | 0x400 | 0x200, 101],
    [0x0a0e, 0x1 | 0x4, 102],
    [0x11, 0x1, 103],
  ]);
  // nfgenmsg of the batch delimiters: AF_UNSPEC, v0, res_id NFNL_SUBSYS_NFTABLES big-endian.
  assert.deepEqual([...msgs[0]!.body.subarray(0, 4)], [0, 0, 0, 10]);
  assert.deepEqual([...msgs[1]!.body.subarray(0, 4)], [1, 0, 0, 0]);
  const attrs = attrList(msgs[1]!.body, 4);
  assert.deepEqual(attrs.map(([t]) => t), [1, 2, 3]);
  assert.equal(new TextDecoder().decode(attrs[0]![1]), "hostgate-guard\0");
});

Deno.test("codec: the comment is one nftnl udata TLV (type 0, length with NUL)", () => {
  assert.deepEqual([...commentUserdata("ab")], [0, 3, 97, 98, 0]);
  assert.equal(parseCommentUserdata(commentUserdata("ctr1 eth0")), "ctr1 eth0");
  assert.equal(parseCommentUserdata(Uint8Array.of(1, 1, 0, 0, 2, 120, 0)), "x");
  assert.equal(parseCommentUserdata(Uint8Array.of(0, 9, 1)), undefined);
  assert.throws(() => commentUserdata("x".repeat(129)), /longer than 128/);
});

Deno.test("codec: an add message decodes back to its elements (what a dump reply carries)", () => {
  const data = encodeKey(["ipv4_addr", "inet_service"], ["10.0.0.1", 80]);
  const b = encodeBatch([{ op: "add", ...REF, key: KEY, data, comment: "c" }], 1);
  const m = parseMessages(b.bytes)[1]!;
  assert.deepEqual(decodeElements({ ...m, type: NEWSETELEM }), [{ key: KEY, data, comment: "c" }]);
  assert.deepEqual(decodeElements({ ...m, type: 3 }), []);
});

Deno.test("codec: several elements in one reply all decode", () => {
  const mb = new MessageBuilder();
  mb.begin(NEWSETELEM, 2, 1).reserve(4);
  mb.nestStart(3, true);
  for (const k of [1, 2]) {
    mb.nestStart(1, true).nestStart(1, true).attr(1, Uint8Array.of(k, 0)).nestEnd().nestEnd();
  }
  mb.nestEnd();
  const m = parseMessages(mb.finish())[0]!;
  assert.deepEqual(decodeElements(m).map((e) => [...e.key]), [[1, 0], [2, 0]]);
});
