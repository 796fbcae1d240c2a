/**
 * The request bodies the FFI handle sends for lookups, dumps, changes and
 * deletes, and the decoders' refusals of replies that are not theirs: byte
 * layouts as the kernel reads them (struct ifinfomsg, ifaddrmsg, ndmsg).
 * @module
 */
import assert from "node:assert/strict";
import * as C from "./constants.ts";
import { getI32, getString, getU32, getU8, MessageBuilder, type NlMsg } from "./message.ts";
import { parseAttrs, parseMessages } from "./message.ts";
import {
  decodeLink,
  encodeDelLink,
  encodeDumpLinks,
  encodeGetLink,
  encodeSetLink,
  putIfInfoMsg,
} from "./link_codec.ts";
import {
  afOf,
  decodeAddr,
  decodeFdb,
  decodeNeigh,
  encodeAddr,
  encodeDumpAddrs,
  encodeDumpNeigh,
  encodeFdb,
  encodeNeigh,
} from "./addr_codec.ts";

function build(type: number, body: (b: MessageBuilder) => void): NlMsg {
  const b = new MessageBuilder().begin(type, 0, 1);
  body(b);
  const msgs = parseMessages(b.finish().slice());
  assert.equal(msgs.length, 1);
  return msgs[0]!;
}

Deno.test("link requests: get by name or index, dump and delete skip stats; set carries changes", () => {
  const byName = build(C.RTM_GETLINK, (b) => encodeGetLink(b, { name: "hgbr0" }));
  assert.equal(getI32(byName.body, 4), 0, "no index: the name selects");
  let a = parseAttrs(byName.body, C.IFINFOMSG_LEN);
  assert.equal(getString(a.get(C.IFLA_IFNAME)!), "hgbr0");
  assert.equal(getU32(a.get(C.IFLA_EXT_MASK)!), C.RTEXT_FILTER_SKIP_STATS);
  const byIndex = build(C.RTM_GETLINK, (b) => encodeGetLink(b, { index: 7 }));
  assert.equal(getI32(byIndex.body, 4), 7);
  assert.equal(parseAttrs(byIndex.body, C.IFINFOMSG_LEN).has(C.IFLA_IFNAME), false);
  const dump = build(C.RTM_GETLINK, encodeDumpLinks);
  assert.deepEqual([...dump.body.subarray(0, C.IFINFOMSG_LEN)], new Array(16).fill(0));
  assert.equal(getU32(parseAttrs(dump.body, C.IFINFOMSG_LEN).get(C.IFLA_EXT_MASK)!), 8);
  const del = build(C.RTM_DELLINK, (b) => encodeDelLink(b, 9));
  assert.equal(del.body.length, C.IFINFOMSG_LEN, "a delete is the header alone");
  assert.equal(getI32(del.body, 4), 9);
  const set = build(C.RTM_SETLINK, (b) =>
    encodeSetLink(b, 3, {
      flags: C.IFF_UP,
      change: C.IFF_UP,
      mtu: 1400,
      mac: "02:42:ac:11:00:02",
      master: 5,
    }));
  assert.equal(getI32(set.body, 4), 3);
  assert.deepEqual([getU32(set.body, 8), getU32(set.body, 12)], [C.IFF_UP, C.IFF_UP]);
  a = parseAttrs(set.body, C.IFINFOMSG_LEN);
  assert.equal(getU32(a.get(C.IFLA_MTU)!), 1400);
  assert.deepEqual([...a.get(C.IFLA_ADDRESS)!], [2, 0x42, 0xac, 0x11, 0, 2]);
  assert.equal(getU32(a.get(C.IFLA_MASTER)!), 5);
  const bare = build(C.RTM_SETLINK, (b) => encodeSetLink(b, 3, {}));
  assert.equal(bare.body.length, C.IFINFOMSG_LEN, "no change asked, no attribute sent");
});

Deno.test("decodeLink: other message types and short bodies are not links; AF_BRIDGE protinfo gives hairpin", () => {
  const notLink = build(C.RTM_NEWADDR, (b) => encodeDumpAddrs(b, 4));
  assert.equal(decodeLink(notLink), undefined);
  const short = build(C.RTM_NEWLINK, (b) => b.reserve(8));
  assert.equal(decodeLink(short), undefined);
  const port = build(C.RTM_NEWLINK, (b) => {
    putIfInfoMsg(b, { family: C.AF_BRIDGE, index: 4 });
    b.attrString(C.IFLA_IFNAME, "veth1");
    b.nestStart(C.IFLA_PROTINFO, true).attrU8(C.IFLA_BRPORT_MODE, 1).nestEnd();
  });
  const link = decodeLink(port)!;
  assert.equal(link.name, "veth1");
  assert.equal(link.index, 4);
  assert.equal(link.hairpin, true);
});

Deno.test("address requests: dumps by family; IPv6 no-DAD flag, never on delete; /31 has no broadcast", () => {
  assert.deepEqual([afOf(4), afOf(6), afOf()], [C.AF_INET, C.AF_INET6, C.AF_UNSPEC]);
  for (const f of [4, 6, undefined] as const) {
    assert.equal(getU8(build(C.RTM_GETADDR, (b) => encodeDumpAddrs(b, f)).body, 0), afOf(f));
  }
  const v6 = build(
    C.RTM_NEWADDR,
    (b) => encodeAddr(b, { linkIndex: 2, cidr: "fd00::1/64", noDad: true }),
  );
  assert.equal(getU8(v6.body, 2), C.IFA_F_NODAD);
  assert.deepEqual(decodeAddr(v6), { linkIndex: 2, cidr: "fd00::1/64", family: 6 });
  const del = build(
    C.RTM_DELADDR,
    (b) => encodeAddr(b, { linkIndex: 2, cidr: "fd00::1/64", noDad: true, remove: true }),
  );
  assert.equal(getU8(del.body, 2), 0);
  const p2p = build(C.RTM_NEWADDR, (b) => encodeAddr(b, { linkIndex: 2, cidr: "10.0.0.0/31" }));
  assert.equal(parseAttrs(p2p.body, C.IFADDRMSG_LEN).has(C.IFA_BROADCAST), false);
  const v4 = build(C.RTM_NEWADDR, (b) => encodeAddr(b, { linkIndex: 2, cidr: "10.1.2.3/20" }));
  assert.deepEqual([...parseAttrs(v4.body, C.IFADDRMSG_LEN).get(C.IFA_BROADCAST)!], [
    10,
    1,
    15,
    255,
  ]);
  // Not an address: wrong type, unknown family, no address attribute.
  assert.equal(decodeAddr(del), undefined);
  const bridge = build(C.RTM_NEWADDR, (b) => b.reserve(C.IFADDRMSG_LEN));
  assert.equal(decodeAddr(bridge), undefined, "AF_UNSPEC is no family");
  const empty = build(C.RTM_NEWADDR, (b) => encodeDumpAddrs(b, 4));
  assert.equal(decodeAddr(empty), undefined, "no IFA_LOCAL nor IFA_ADDRESS");
});

Deno.test("neighbour requests: dump per family; reachable when not permanent; foreign replies refused", () => {
  const dump = build(C.RTM_GETNEIGH, (b) => encodeDumpNeigh(b, C.AF_BRIDGE));
  assert.equal(getU8(dump.body, 0), C.AF_BRIDGE);
  const n = build(
    C.RTM_NEWNEIGH,
    (b) => encodeNeigh(b, { linkIndex: 3, ip: "fd00::9", permanent: false }),
  );
  assert.deepEqual(decodeNeigh(n), { linkIndex: 3, ip: "fd00::9", mac: "", permanent: false });
  assert.equal(n.body[8], C.NUD_REACHABLE);
  assert.equal(decodeFdb(n), undefined, "an IPv6 neighbour is no FDB entry");
  const fdb = build(
    C.RTM_NEWNEIGH,
    (b) => encodeFdb(b, { linkIndex: 6, mac: "02:00:00:00:00:01" }),
  );
  assert.deepEqual(decodeFdb(fdb), { linkIndex: 6, mac: "02:00:00:00:00:01" });
  for (const wrongType of [build(C.RTM_DELNEIGH, (b) => encodeDumpNeigh(b, C.AF_INET))]) {
    assert.equal(decodeNeigh(wrongType), undefined);
    assert.equal(decodeFdb(wrongType), undefined);
  }
  const noDst = build(C.RTM_NEWNEIGH, (b) => encodeDumpNeigh(b, C.AF_INET));
  assert.equal(decodeNeigh(noDst), undefined, "no NDA_DST");
  const noMac = build(C.RTM_NEWNEIGH, (b) => encodeDumpNeigh(b, C.AF_BRIDGE));
  assert.equal(decodeFdb(noMac), undefined, "no NDA_LLADDR");
});
