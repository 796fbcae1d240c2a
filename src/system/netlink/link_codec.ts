/**
 * RTM_*LINK requests and replies: bridge, veth (peer placed in another netns
 * by fd), vxlan, flag/mtu/mac/master changes, hairpin via AF_BRIDGE protinfo,
 * and decoding of ifinfomsg + attributes into a Link. Pure.
 * @module
 */

import {
  AF_BRIDGE,
  AF_UNSPEC,
  IFF_PROMISC,
  IFF_UP,
  IFINFOMSG_LEN,
  IFLA_ADDRESS,
  IFLA_BRPORT_MODE,
  IFLA_EXT_MASK,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_PROTINFO,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  RTEXT_FILTER_SKIP_STATS,
  RTM_NEWLINK,
  VETH_INFO_PEER,
} from "./constants.ts";
import { formatIp, formatMac, parseIp, parseMac } from "./ip.ts";
import {
  type Attrs,
  getBe16,
  getI32,
  getString,
  getU32,
  getU8,
  type MessageBuilder,
  type NlMsg,
  parseAttrs,
} from "./message.ts";
import type { Link, VethSpec, VxlanInfo, VxlanSpec } from "./types.ts";

/** Fields of struct ifinfomsg. */
export interface IfInfoMsg {
  family?: number;
  index?: number;
  flags?: number;
  change?: number;
}

/** Appends a struct ifinfomsg. */
export function putIfInfoMsg(b: MessageBuilder, h: IfInfoMsg = {}): void {
  const at = b.reserve(IFINFOMSG_LEN);
  b.setU8(at, h.family ?? AF_UNSPEC)
    .setI32(at + 4, h.index ?? 0)
    .setU32(at + 8, h.flags ?? 0)
    .setU32(at + 12, h.change ?? 0);
}

/** RTM_GETLINK for one link by name or index (stats skipped: smaller reply). */
export function encodeGetLink(b: MessageBuilder, by: { name?: string; index?: number }): void {
  putIfInfoMsg(b, { index: by.index ?? 0 });
  if (by.name !== undefined) b.attrString(IFLA_IFNAME, by.name);
  b.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

/** RTM_GETLINK dump body. */
export function encodeDumpLinks(b: MessageBuilder): void {
  putIfInfoMsg(b);
  b.attrU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

function common(b: MessageBuilder, o: { name: string; mtu?: number; mac?: string }): void {
  b.attrString(IFLA_IFNAME, o.name);
  if (o.mtu !== undefined) b.attrU32(IFLA_MTU, o.mtu);
  if (o.mac !== undefined) b.attr(IFLA_ADDRESS, parseMac(o.mac));
}

/** RTM_NEWLINK body creating a bridge. */
export function encodeNewBridge(
  b: MessageBuilder,
  o: { name: string; mtu?: number; mac?: string },
): void {
  putIfInfoMsg(b);
  common(b, o);
  b.nestStart(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "bridge").nestEnd();
}

/** RTM_NEWLINK body creating an IFB device (no kind data). */
export function encodeNewIfb(b: MessageBuilder, o: { name: string; mtu?: number }): void {
  putIfInfoMsg(b);
  common(b, o);
  b.nestStart(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "ifb").nestEnd();
}

/**
 * RTM_NEWLINK body creating a veth pair: the host side here, the peer moved
 * at creation into the netns open as `peerNetnsFd` (no rename/move race).
 */
export function encodeNewVeth(b: MessageBuilder, spec: VethSpec, peerNetnsFd: number): void {
  putIfInfoMsg(b);
  common(b, { name: spec.name, mtu: spec.mtu });
  b.nestStart(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "veth");
  b.nestStart(IFLA_INFO_DATA).nestStart(VETH_INFO_PEER);
  putIfInfoMsg(b);
  common(b, { name: spec.peerName, mtu: spec.mtu, mac: spec.peerMac });
  b.attrU32(IFLA_NET_NS_FD, peerNetnsFd);
  b.nestEnd().nestEnd().nestEnd();
}

/** RTM_NEWLINK body creating a vxlan device. */
export function encodeNewVxlan(b: MessageBuilder, spec: VxlanSpec): void {
  putIfInfoMsg(b);
  common(b, spec);
  b.nestStart(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "vxlan");
  b.nestStart(IFLA_INFO_DATA).attrU32(IFLA_VXLAN_ID, spec.vni);
  if (spec.local !== undefined) {
    const ip = parseIp(spec.local);
    b.attr(ip.family === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, ip.bytes);
  }
  if (spec.underlay !== undefined) b.attrU32(IFLA_VXLAN_LINK, spec.underlay);
  b.attrBe16(IFLA_VXLAN_PORT, spec.port);
  b.attrU8(IFLA_VXLAN_LEARNING, spec.learning === false ? 0 : 1);
  b.nestEnd().nestEnd();
}

/** Changes RTM_SETLINK can make to an existing link. */
export interface LinkChange {
  /** Interface flag bits to set/clear, only those in `change`. */
  flags?: number;
  change?: number;
  mtu?: number;
  mac?: string;
  /** 0 removes the link from its master. */
  master?: number;
}

/** RTM_SETLINK body for link `index`. */
export function encodeSetLink(b: MessageBuilder, index: number, c: LinkChange): void {
  putIfInfoMsg(b, { index, flags: c.flags ?? 0, change: c.change ?? 0 });
  if (c.mtu !== undefined) b.attrU32(IFLA_MTU, c.mtu);
  if (c.mac !== undefined) b.attr(IFLA_ADDRESS, parseMac(c.mac));
  if (c.master !== undefined) b.attrU32(IFLA_MASTER, c.master);
}

/** RTM_SETLINK (AF_BRIDGE) body setting a bridge port's hairpin mode. */
export function encodeHairpin(b: MessageBuilder, index: number, on: boolean): void {
  putIfInfoMsg(b, { family: AF_BRIDGE, index });
  b.nestStart(IFLA_PROTINFO, true).attrU8(IFLA_BRPORT_MODE, on ? 1 : 0).nestEnd();
}

/** RTM_DELLINK body. */
export function encodeDelLink(b: MessageBuilder, index: number): void {
  putIfInfoMsg(b, { index });
}

/** Flag words for up/down/promisc changes. */
export function flagChange(bit: number, on: boolean): LinkChange {
  return { flags: on ? bit : 0, change: bit };
}
export const UP = IFF_UP;
export const PROMISC = IFF_PROMISC;

function decodeVxlan(data: Attrs): VxlanInfo {
  const id = data.get(IFLA_VXLAN_ID);
  const port = data.get(IFLA_VXLAN_PORT);
  const local = data.get(IFLA_VXLAN_LOCAL) ?? data.get(IFLA_VXLAN_LOCAL6);
  const link = data.get(IFLA_VXLAN_LINK);
  const learning = data.get(IFLA_VXLAN_LEARNING);
  const out: VxlanInfo = {
    vni: id ? getU32(id) : 0,
    port: port ? getBe16(port) : 0,
    learning: learning ? getU8(learning) !== 0 : false,
  };
  if (local) out.local = formatIp(local);
  if (link && getU32(link) !== 0) out.underlay = getU32(link);
  return out;
}

/** Decodes an RTM_NEWLINK reply; undefined for other message types. */
export function decodeLink(m: NlMsg): Link | undefined {
  if (m.type !== RTM_NEWLINK || m.body.length < IFINFOMSG_LEN) return undefined;
  const flags = getU32(m.body, 8);
  const a = parseAttrs(m.body, IFINFOMSG_LEN);
  const name = a.get(IFLA_IFNAME);
  const mtu = a.get(IFLA_MTU);
  const mac = a.get(IFLA_ADDRESS);
  const link: Link = {
    index: getI32(m.body, 4),
    name: name ? getString(name) : "",
    kind: "",
    mtu: mtu ? getU32(mtu) : 0,
    mac: mac ? formatMac(mac) : "",
    up: (flags & IFF_UP) !== 0,
    promisc: (flags & IFF_PROMISC) !== 0,
  };
  const master = a.get(IFLA_MASTER);
  if (master && getU32(master) !== 0) link.master = getU32(master);
  const info = a.get(IFLA_LINKINFO);
  if (info) {
    const li = parseAttrs(info);
    const kind = li.get(IFLA_INFO_KIND);
    if (kind) link.kind = getString(kind);
    const data = li.get(IFLA_INFO_DATA);
    if (link.kind === "vxlan" && data) link.vxlan = decodeVxlan(parseAttrs(data));
    const slaveKind = li.get(IFLA_INFO_SLAVE_KIND);
    const slaveData = li.get(IFLA_INFO_SLAVE_DATA);
    if (slaveKind && getString(slaveKind) === "bridge" && slaveData) {
      const mode = parseAttrs(slaveData).get(IFLA_BRPORT_MODE);
      if (mode) link.hairpin = getU8(mode) !== 0;
    }
  }
  const prot = a.get(IFLA_PROTINFO);
  if (prot && getU8(m.body, 0) === AF_BRIDGE) {
    const mode = parseAttrs(prot).get(IFLA_BRPORT_MODE);
    if (mode) link.hairpin = getU8(mode) !== 0;
  }
  const peer = a.get(IFLA_LINK);
  if (link.kind === "veth" && peer) link.peerIndex = getU32(peer);
  return link;
}
