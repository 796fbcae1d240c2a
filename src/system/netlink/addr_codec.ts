/**
 * RTM_*ADDR and RTM_*NEIGH requests and replies: interface addresses,
 * neighbour (ARP/NDP) entries and bridge/vxlan FDB entries. Pure.
 * @module
 */

import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_F_NODAD,
  IFA_LOCAL,
  IFADDRMSG_LEN,
  NDA_DST,
  NDA_LLADDR,
  NDMSG_LEN,
  NTF_SELF,
  NUD_PERMANENT,
  NUD_REACHABLE,
  RTM_NEWADDR,
  RTM_NEWNEIGH,
} from "./constants.ts";
import { formatIp, formatMac, parseCidr, parseIp, parseMac } from "./ip.ts";
import { getI32, getU16, getU8, type MessageBuilder, type NlMsg, parseAttrs } from "./message.ts";
import type { Family } from "../../net/mod.ts";
import type { Address, FdbEntry, Neighbor } from "./types.ts";

/** AF_INET/AF_INET6 for a family, AF_UNSPEC for none. */
export function afOf(family?: Family): number {
  return family === 4 ? AF_INET : family === 6 ? AF_INET6 : AF_UNSPEC;
}

function familyOf(af: number): Family | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** Appends a struct ifaddrmsg. */
function putIfAddrMsg(
  b: MessageBuilder,
  h: { family: number; prefix?: number; flags?: number; index?: number },
): void {
  const at = b.reserve(IFADDRMSG_LEN);
  b.setU8(at, h.family).setU8(at + 1, h.prefix ?? 0).setU8(at + 2, h.flags ?? 0)
    .setU32(at + 4, h.index ?? 0);
}

/** RTM_GETADDR dump body. */
export function encodeDumpAddrs(b: MessageBuilder, family?: Family): void {
  putIfAddrMsg(b, { family: afOf(family) });
}

/** Options of encodeAddr. */
export interface AddrRequest {
  linkIndex: number;
  cidr: string;
  noDad?: boolean;
  /** Deleting: no broadcast, no flags. */
  remove?: boolean;
}

/**
 * RTM_NEWADDR/RTM_DELADDR body. IPv4 gets the subnet broadcast (as the
 * reference plugins' netlink library adds) unless the prefix is /31 or /32.
 */
export function encodeAddr(b: MessageBuilder, r: AddrRequest): void {
  const c = parseCidr(r.cidr);
  const flags = !r.remove && r.noDad && c.family === 6 ? IFA_F_NODAD : 0;
  putIfAddrMsg(b, { family: afOf(c.family), prefix: c.prefix, flags, index: r.linkIndex });
  b.attr(IFA_LOCAL, c.bytes).attr(IFA_ADDRESS, c.bytes);
  if (!r.remove && c.family === 4 && c.prefix < 31) {
    const brd = c.bytes.slice();
    for (let i = 0; i < 4; i++) {
      const hostBits = Math.max(0, Math.min(8, 32 - c.prefix - (3 - i) * 8));
      brd[i] = brd[i]! | ((1 << hostBits) - 1);
    }
    b.attr(IFA_BROADCAST, brd);
  }
}

/** Decodes an RTM_NEWADDR reply. */
export function decodeAddr(m: NlMsg): Address | undefined {
  if (m.type !== RTM_NEWADDR || m.body.length < IFADDRMSG_LEN) return undefined;
  const family = familyOf(getU8(m.body, 0));
  if (!family) return undefined;
  const a = parseAttrs(m.body, IFADDRMSG_LEN);
  const bytes = family === 4
    ? a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS)
    : a.get(IFA_ADDRESS) ?? a.get(IFA_LOCAL);
  if (!bytes) return undefined;
  return {
    linkIndex: getI32(m.body, 4),
    cidr: `${formatIp(bytes)}/${getU8(m.body, 1)}`,
    family,
  };
}

/** Appends a struct ndmsg. */
function putNdMsg(
  b: MessageBuilder,
  h: { family: number; index?: number; state?: number; flags?: number },
): void {
  const at = b.reserve(NDMSG_LEN);
  b.setU8(at, h.family).setI32(at + 4, h.index ?? 0).setU16(at + 8, h.state ?? 0)
    .setU8(at + 10, h.flags ?? 0);
}

/** RTM_GETNEIGH dump body (AF_BRIDGE for the FDB). */
export function encodeDumpNeigh(b: MessageBuilder, af: number): void {
  putNdMsg(b, { family: af });
}

/** RTM_NEWNEIGH/RTM_DELNEIGH body of a neighbour entry. */
export function encodeNeigh(
  b: MessageBuilder,
  n: { linkIndex: number; ip: string; mac?: string; permanent?: boolean },
): void {
  const ip = parseIp(n.ip);
  putNdMsg(b, {
    family: afOf(ip.family),
    index: n.linkIndex,
    state: n.permanent === false ? NUD_REACHABLE : NUD_PERMANENT,
  });
  b.attr(NDA_DST, ip.bytes);
  if (n.mac !== undefined) b.attr(NDA_LLADDR, parseMac(n.mac));
}

/** Decodes an RTM_NEWNEIGH reply of AF_INET/AF_INET6. */
export function decodeNeigh(m: NlMsg): Neighbor | undefined {
  if (m.type !== RTM_NEWNEIGH || m.body.length < NDMSG_LEN) return undefined;
  if (!familyOf(getU8(m.body, 0))) return undefined;
  const a = parseAttrs(m.body, NDMSG_LEN);
  const dst = a.get(NDA_DST);
  if (!dst) return undefined;
  const ll = a.get(NDA_LLADDR);
  return {
    linkIndex: getI32(m.body, 4),
    ip: formatIp(dst),
    mac: ll ? formatMac(ll) : "",
    permanent: (getU16(m.body, 8) & NUD_PERMANENT) !== 0,
  };
}

/** RTM_NEWNEIGH/RTM_DELNEIGH body of an FDB entry (AF_BRIDGE, NTF_SELF). */
export function encodeFdb(b: MessageBuilder, e: FdbEntry): void {
  putNdMsg(b, { family: AF_BRIDGE, index: e.linkIndex, state: NUD_PERMANENT, flags: NTF_SELF });
  b.attr(NDA_LLADDR, parseMac(e.mac));
  if (e.dst !== undefined) b.attr(NDA_DST, parseIp(e.dst).bytes);
}

/** Decodes an RTM_NEWNEIGH reply of AF_BRIDGE. */
export function decodeFdb(m: NlMsg): FdbEntry | undefined {
  if (m.type !== RTM_NEWNEIGH || m.body.length < NDMSG_LEN) return undefined;
  if (getU8(m.body, 0) !== AF_BRIDGE) return undefined;
  const a = parseAttrs(m.body, NDMSG_LEN);
  const ll = a.get(NDA_LLADDR);
  if (!ll) return undefined;
  const out: FdbEntry = { linkIndex: getI32(m.body, 4), mac: formatMac(ll) };
  const dst = a.get(NDA_DST);
  if (dst) out.dst = formatIp(dst);
  return out;
}
