import assert from "node:assert/strict";
import * as C from "./constants.ts";
import {
  align4,
  getBe16,
  getString,
  getU32,
  MessageBuilder,
  type NlMsg,
  parseAttrs,
  parseError,
  parseMessages,
} from "./message.ts";
import {
  decodeLink,
  encodeHairpin,
  encodeNewBridge,
  encodeNewVeth,
  encodeNewVxlan,
  encodeSetLink,
  flagChange,
  UP,
} from "./link_codec.ts";
import {
  decodeAddr,
  decodeFdb,
  decodeNeigh,
  encodeAddr,
  encodeFdb,
  encodeNeigh,
} from "./addr_codec.ts";
import { decodeRoute, encodeRoute } from "./route_codec.ts";

/** Finishes the builder and parses it back as the kernel would see it. */
function roundTrip(b: MessageBuilder): NlMsg {
  const msgs = parseMessages(b.finish().slice());
  assert.equal(msgs.length, 1);
  return msgs[0]!;
}

Deno.test("builder writes nlmsghdr, fixed header and padded attributes", () => {
  const b = new MessageBuilder(8); // tiny: forces growth
  b.begin(C.RTM_NEWLINK, C.NLM_F_REQUEST | C.NLM_F_ACK, 77);
  const at = b.reserve(C.IFINFOMSG_LEN);
  b.setI32(at + 4, 5);
  b.attrString(C.IFLA_IFNAME, "br0").attrU32(C.IFLA_MTU, 1400);
  const bytes = b.finish();
  // 16 hdr + 16 ifinfomsg + (4+4 "br0\0") + (4+4 mtu) = 48
  assert.equal(bytes.length, 48);
  assert.deepEqual(
    [...bytes],
    [
      48,
      0,
      0,
      0,
      16,
      0,
      5,
      0,
      77,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // nlmsghdr
      0,
      0,
      0,
      0,
      5,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // ifinfomsg index 5
      8,
      0,
      3,
      0,
      98,
      114,
      48,
      0, // IFLA_IFNAME "br0\0"
      8,
      0,
      4,
      0,
      0x78,
      0x05,
      0,
      0, // IFLA_MTU 1400
    ],
  );
});

Deno.test("attribute lengths exclude padding and nests cover their children", () => {
  const b = new MessageBuilder().begin(1, 0, 1);
  b.attrU8(1, 7);
  b.nestStart(2, true).attrString(3, "abcde").attrBe16(4, 4789).nestEnd();
  const m = roundTrip(b);
  const top = parseAttrs(m.body);
  assert.deepEqual([...top.get(1)!], [7]);
  const nested = parseAttrs(top.get(2)!);
  assert.equal(getString(nested.get(3)!), "abcde");
  assert.equal(getBe16(nested.get(4)!), 4789);
  // raw: the nest header carries NLA_F_NESTED and its length = 4 + 12 + 8
  const raw = new DataView(m.body.buffer, m.body.byteOffset);
  assert.equal(raw.getUint16(8, true), 24);
  assert.equal(raw.getUint16(10, true), 2 | C.NLA_F_NESTED);
  assert.equal(align4(5), 8);
});

Deno.test("builder refuses to finish with an open nest", () => {
  const b = new MessageBuilder().begin(1, 0, 1).nestStart(1);
  assert.throws(() => b.finish(), /nest open/);
});

Deno.test("parseMessages splits a multi-message datagram and stops at garbage", () => {
  const b = new MessageBuilder();
  const one = b.begin(C.RTM_NEWADDR, C.NLM_F_MULTI, 9).attrU32(1, 1).finish().slice();
  const two = b.begin(C.NLMSG_DONE, C.NLM_F_MULTI, 9).attrU32(1, 0).finish().slice();
  const buf = new Uint8Array(one.length + two.length + 3);
  buf.set(one);
  buf.set(two, one.length);
  const msgs = parseMessages(buf);
  assert.deepEqual(msgs.map((m) => [m.type, m.seq]), [[C.RTM_NEWADDR, 9], [C.NLMSG_DONE, 9]]);
});

Deno.test("parseError reads errno and the extended ACK message", () => {
  const b = new MessageBuilder().begin(C.NLMSG_ERROR, C.NLM_F_CAPPED | C.NLM_F_ACK_TLVS, 3);
  const at = b.reserve(4 + 16);
  b.setI32(at, -17).setU32(at + 4, 40);
  b.attrString(C.NLMSGERR_ATTR_MSG, "Nexthop has invalid gateway");
  assert.deepEqual(parseError(roundTrip(b)), {
    errno: 17,
    message: "Nexthop has invalid gateway",
  });
  const ack = new MessageBuilder().begin(C.NLMSG_ERROR, C.NLM_F_CAPPED, 3);
  ack.reserve(20);
  assert.deepEqual(parseError(roundTrip(ack)), { errno: 0 });
});

Deno.test("veth request nests the peer ifinfomsg with IFLA_NET_NS_FD", () => {
  const b = new MessageBuilder().begin(C.RTM_NEWLINK, 0, 1);
  encodeNewVeth(b, {
    name: "veth1",
    peerName: "eth0",
    peerNetns: "/x",
    mtu: 1450,
    peerMac: "02:00:00:AA:BB:01",
  }, 42);
  const m = roundTrip(b);
  const a = parseAttrs(m.body, C.IFINFOMSG_LEN);
  assert.equal(getString(a.get(C.IFLA_IFNAME)!), "veth1");
  assert.equal(getU32(a.get(C.IFLA_MTU)!), 1450);
  const info = parseAttrs(a.get(C.IFLA_LINKINFO)!);
  assert.equal(getString(info.get(C.IFLA_INFO_KIND)!), "veth");
  const peerMsg = parseAttrs(info.get(C.IFLA_INFO_DATA)!).get(C.VETH_INFO_PEER)!;
  const peer = parseAttrs(peerMsg, C.IFINFOMSG_LEN);
  assert.equal(getString(peer.get(C.IFLA_IFNAME)!), "eth0");
  assert.equal(getU32(peer.get(C.IFLA_NET_NS_FD)!), 42);
  assert.equal(getU32(peer.get(C.IFLA_MTU)!), 1450);
  assert.deepEqual([...peer.get(C.IFLA_ADDRESS)!], [2, 0, 0, 0xaa, 0xbb, 1]);
});

Deno.test("vxlan request: port in network byte order, v6 local, learning off", () => {
  const b = new MessageBuilder().begin(C.RTM_NEWLINK, 0, 1);
  encodeNewVxlan(b, { name: "vx0", vni: 4242, port: 4789, local: "fd00::1", learning: false });
  const info = parseAttrs(parseAttrs(roundTrip(b).body, C.IFINFOMSG_LEN).get(C.IFLA_LINKINFO)!);
  const data = parseAttrs(info.get(C.IFLA_INFO_DATA)!);
  assert.deepEqual([...data.get(C.IFLA_VXLAN_PORT)!], [0x12, 0xb5]);
  assert.equal(getU32(data.get(C.IFLA_VXLAN_ID)!), 4242);
  assert.equal(data.get(C.IFLA_VXLAN_LOCAL6)!.length, 16);
  assert.deepEqual([...data.get(C.IFLA_VXLAN_LEARNING)!], [0]);
});

Deno.test("hairpin request is AF_BRIDGE with a NLA_F_NESTED protinfo", () => {
  const b = new MessageBuilder().begin(C.RTM_SETLINK, 0, 1);
  encodeHairpin(b, 7, true);
  const m = roundTrip(b);
  assert.equal(m.body[0], C.AF_BRIDGE);
  const raw = new DataView(m.body.buffer, m.body.byteOffset);
  assert.equal(raw.getUint16(C.IFINFOMSG_LEN + 2, true), C.IFLA_PROTINFO | C.NLA_F_NESTED);
  const prot = parseAttrs(m.body, C.IFINFOMSG_LEN).get(C.IFLA_PROTINFO)!;
  assert.deepEqual([...parseAttrs(prot).get(C.IFLA_BRPORT_MODE)!], [1]);
});

Deno.test("decodeLink reads kind, flags, master, vxlan info and bridge-port hairpin", () => {
  const b = new MessageBuilder().begin(C.RTM_NEWLINK, 0, 1);
  encodeNewVxlan(b, { name: "vx0", vni: 7, port: 8472, local: "10.0.0.1", underlay: 3 });
  const vx = decodeLink(roundTrip(b))!;
  assert.equal(vx.kind, "vxlan");
  assert.deepEqual(vx.vxlan, {
    vni: 7,
    port: 8472,
    local: "10.0.0.1",
    underlay: 3,
    learning: true,
  });

  const p = new MessageBuilder().begin(C.RTM_NEWLINK, 0, 1);
  encodeSetLink(p, 9, { ...flagChange(UP | C.IFF_PROMISC, true), mtu: 9000, master: 4 });
  p.attr(C.IFLA_ADDRESS, new Uint8Array([0xaa, 0, 0, 0, 0, 1]));
  p.nestStart(C.IFLA_LINKINFO).attrString(C.IFLA_INFO_KIND, "veth")
    .attrString(C.IFLA_INFO_SLAVE_KIND, "bridge")
    .nestStart(C.IFLA_INFO_SLAVE_DATA).attrU8(C.IFLA_BRPORT_MODE, 1).nestEnd().nestEnd();
  p.attrU32(C.IFLA_LINK, 2);
  const l = decodeLink(roundTrip(p))!;
  assert.deepEqual(l, {
    index: 9,
    name: "",
    kind: "veth",
    mtu: 9000,
    mac: "aa:00:00:00:00:01",
    up: true,
    promisc: true,
    master: 4,
    hairpin: true,
    peerIndex: 2,
  });
  const br = new MessageBuilder().begin(C.RTM_NEWLINK, 0, 1);
  encodeNewBridge(br, { name: "hostgate0", mac: "02:00:00:00:00:02" });
  assert.equal(decodeLink(roundTrip(br))!.kind, "bridge");
});

Deno.test("address encode: v4 gets local, address and broadcast; decode round-trips", () => {
  const b = new MessageBuilder().begin(C.RTM_NEWADDR, 0, 1);
  encodeAddr(b, { linkIndex: 3, cidr: "10.22.0.1/23" });
  const m = roundTrip(b);
  const a = parseAttrs(m.body, C.IFADDRMSG_LEN);
  assert.deepEqual([...a.get(C.IFA_BROADCAST)!], [10, 22, 1, 255]);
  assert.deepEqual(decodeAddr(m), { linkIndex: 3, cidr: "10.22.0.1/23", family: 4 });
  const p2p = new MessageBuilder().begin(C.RTM_NEWADDR, 0, 1);
  encodeAddr(p2p, { linkIndex: 3, cidr: "10.22.0.1/31" });
  assert.equal(parseAttrs(roundTrip(p2p).body, C.IFADDRMSG_LEN).has(C.IFA_BROADCAST), false);
  const v6 = new MessageBuilder().begin(C.RTM_NEWADDR, 0, 1);
  encodeAddr(v6, { linkIndex: 4, cidr: "fd00:0:0::a/64", noDad: true });
  const m6 = roundTrip(v6);
  assert.equal(m6.body[2], C.IFA_F_NODAD);
  assert.deepEqual(decodeAddr(m6), { linkIndex: 4, cidr: "fd00::a/64", family: 6 });
});

Deno.test("route encode/decode: defaults like iproute2, table > 255 via RTA_TABLE", () => {
  const b = new MessageBuilder().begin(C.RTM_NEWROUTE, 0, 1);
  encodeRoute(b, { family: 4, dst: "10.1.0.0/16", linkIndex: 5 }, false);
  const m = roundTrip(b);
  assert.deepEqual([...m.body.subarray(0, 8)], [C.AF_INET, 16, 0, 0, 254, 3, 253, 1]);
  assert.deepEqual(decodeRoute(m), {
    family: 4,
    dst: "10.1.0.0/16",
    protocol: 3,
    table: 254,
    linkIndex: 5,
    scope: "link",
  });
  const full = new MessageBuilder().begin(C.RTM_NEWROUTE, 0, 1);
  const route = {
    family: 6 as const,
    dst: "::/0",
    gateway: "fd00::1",
    linkIndex: 2,
    protocol: 151,
    table: 1000,
    scope: "universe" as const,
    onlink: true,
    src: "fd00::5",
    metric: 100,
  };
  encodeRoute(full, route, false);
  const fm = roundTrip(full);
  assert.equal(fm.body[4], C.RT_TABLE_UNSPEC);
  assert.equal(parseAttrs(fm.body, C.RTMSG_LEN).has(C.RTA_DST), false);
  assert.deepEqual(decodeRoute(fm), route);
});

Deno.test("route delete leaves unset fields as wildcards; cloned and odd types skipped", () => {
  const b = new MessageBuilder().begin(C.RTM_DELROUTE, 0, 1);
  encodeRoute(b, { family: 4, dst: "10.2.0.0/24" }, true);
  const m = roundTrip(b);
  assert.deepEqual([...m.body.subarray(0, 8)], [C.AF_INET, 24, 0, 0, 254, 0, 255, 0]);
  const cloned = new MessageBuilder().begin(C.RTM_NEWROUTE, 0, 1);
  encodeRoute(cloned, { family: 4, dst: "10.2.0.0/24", linkIndex: 1 }, false);
  const cm = roundTrip(cloned);
  cm.body[9] = C.RTM_F_CLONED >> 8;
  assert.equal(decodeRoute(cm), undefined);
  const bh = new MessageBuilder().begin(C.RTM_NEWROUTE, 0, 1);
  encodeRoute(bh, { family: 4, dst: "10.3.0.0/24", type: "blackhole" }, false);
  assert.equal(decodeRoute(roundTrip(bh))!.type, "blackhole");
});

Deno.test("neighbour and fdb entries round-trip", () => {
  const n = new MessageBuilder().begin(C.RTM_NEWNEIGH, 0, 1);
  encodeNeigh(n, { linkIndex: 4, ip: "10.0.0.9", mac: "02:00:00:00:00:09", permanent: true });
  assert.deepEqual(decodeNeigh(roundTrip(n)), {
    linkIndex: 4,
    ip: "10.0.0.9",
    mac: "02:00:00:00:00:09",
    permanent: true,
  });
  const f = new MessageBuilder().begin(C.RTM_NEWNEIGH, 0, 1);
  encodeFdb(f, { linkIndex: 6, mac: "00:00:00:00:00:00", dst: "192.168.1.2" });
  const fm = roundTrip(f);
  assert.equal(fm.body[10], C.NTF_SELF);
  assert.deepEqual(decodeFdb(fm), { linkIndex: 6, mac: "00:00:00:00:00:00", dst: "192.168.1.2" });
  assert.equal(decodeNeigh(fm), undefined);
});
