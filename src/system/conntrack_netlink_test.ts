import assert from "node:assert/strict";
import { MessageBuilder, parseMessages } from "./netlink/message.ts";
import {
  CT_DELETE,
  CT_NEW,
  type CtTuple,
  decodeTuple,
  DELETE_FLAGS,
  encodeDelete,
  encodeDump,
  flowMatches,
} from "./conntrack_netlink.ts";

const V4: CtTuple = {
  family: 4,
  proto: 17,
  src: "10.99.0.2",
  dst: "10.99.0.1",
  sport: 40053,
  dport: 18053,
  zone: 0,
};

function message(type: number, fill: (b: MessageBuilder) => void) {
  const b = new MessageBuilder().begin(type, DELETE_FLAGS, 7);
  fill(b);
  return parseMessages(b.finish().slice())[0]!;
}

Deno.test("ctnetlink: a delete names the original tuple (nested, ports big-endian)", () => {
  const m = message(CT_DELETE, (b) => encodeDelete(b, V4));
  assert.equal(m.type, (1 << 8) | 2);
  // nfgenmsg AF_INET, then CTA_TUPLE_ORIG|NLA_F_NESTED holding CTA_TUPLE_IP|NESTED.
  assert.deepEqual([...m.body.subarray(0, 4)], [2, 0, 0, 0]);
  assert.deepEqual([...m.body.subarray(6, 8)], [1, 0x80]);
  assert.deepEqual([...m.body.subarray(10, 12)], [1, 0x80]);
  // The same layout read back as a dump reply's original tuple.
  assert.deepEqual(decodeTuple({ ...m, type: CT_NEW }), V4);
  const v6 = { ...V4, family: 6 as const, src: "fd00::2", dst: "fd00::1", zone: 3 };
  assert.deepEqual(
    decodeTuple({ ...message(CT_DELETE, (b) => encodeDelete(b, v6)), type: CT_NEW }),
    v6,
  );
});

Deno.test("ctnetlink: the dump asks for one family; other messages decode to nothing", () => {
  const m = message((1 << 8) | 1, (b) => encodeDump(b, 6));
  assert.deepEqual([...m.body], [10, 0, 0, 0]);
  // Filtered: the values in CTA_TUPLE_ORIG, the fields in CTA_FILTER (25) orig flags.
  const f = message(
    (1 << 8) | 1,
    (b) => encodeDump(b, 4, { family: 4, protocol: "udp", origDstPort: 53, origDst: "10.0.0.1" }),
  );
  const t = decodeTuple({ ...f, type: CT_NEW });
  assert.equal(t, undefined, "no source in a filter tuple");
  const tail = [...f.body.subarray(f.body.length - 20)];
  assert.deepEqual(tail, [20, 0, 25, 0x80, 8, 0, 1, 0, 0b101010, 0, 0, 0, 8, 0, 2, 0, 0, 0, 0, 0]);
  assert.equal(decodeTuple(m), undefined);
  assert.equal(decodeTuple({ ...m, type: CT_NEW }), undefined, "no tuple attribute");
});

Deno.test("ctnetlink: a flow matches by family, protocol, original port and address if given", () => {
  const f = { family: 4 as const, protocol: "udp" as const, origDstPort: 18053 };
  assert.ok(flowMatches(V4, f));
  assert.ok(flowMatches(V4, { ...f, origDst: "10.99.0.1" }));
  assert.ok(!flowMatches(V4, { ...f, origDst: "10.99.0.9" }));
  assert.ok(!flowMatches(V4, { ...f, origDstPort: 18054 }));
  assert.ok(!flowMatches(V4, { ...f, protocol: "tcp" }));
  assert.ok(!flowMatches(V4, { ...f, family: 6 }));
  const v6 = { ...V4, family: 6 as const, dst: "fd00::1" };
  assert.ok(flowMatches(v6, { ...f, family: 6, origDst: "fd00:0::1" }));
});
