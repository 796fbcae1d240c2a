import assert from "node:assert/strict";
import { decodeNftEvent } from "./nft_monitor.ts";

/** An nftables message body: nfgenmsg then string attributes. */
function body(family: number, attrs: [number, string][]): Uint8Array {
  const parts: number[] = [family, 0, 0, 0];
  for (const [type, s] of attrs) {
    const v = [...new TextEncoder().encode(s), 0];
    const len = 4 + v.length;
    parts.push(len & 0xff, len >> 8, type & 0xff, type >> 8, ...v);
    while (parts.length % 4) parts.push(0);
  }
  return new Uint8Array(parts);
}

Deno.test("decodeNftEvent: table, chain and rule messages with their names", () => {
  const t = (msg: number) => (10 << 8) | msg;
  assert.deepEqual(decodeNftEvent({ type: t(2), body: body(1, [[1, "hostgate"]]) }), {
    object: "table",
    op: "delete",
    family: "inet",
    table: "hostgate",
  });
  assert.deepEqual(
    decodeNftEvent({ type: t(3), body: body(2, [[1, "filter"], [3, "FORWARD"]]) }),
    { object: "chain", op: "add", family: "ip", table: "filter", chain: "FORWARD" },
  );
  assert.deepEqual(
    decodeNftEvent({ type: t(8), body: body(10, [[1, "nat"], [2, "HOSTGATE-POSTRTG"]]) }),
    { object: "rule", op: "delete", family: "ip6", table: "nat", chain: "HOSTGATE-POSTRTG" },
  );
});

Deno.test("decodeNftEvent: other subsystems, sets, generations and short bodies are skipped", () => {
  assert.equal(decodeNftEvent({ type: (1 << 8) | 0, body: body(2, []) }), undefined, "ctnetlink");
  assert.equal(decodeNftEvent({ type: (10 << 8) | 9, body: body(2, [[1, "t"]]) }), undefined);
  assert.equal(decodeNftEvent({ type: (10 << 8) | 16, body: body(2, []) }), undefined, "NEWGEN");
  assert.equal(decodeNftEvent({ type: (10 << 8) | 6, body: new Uint8Array(2) }), undefined);
});
