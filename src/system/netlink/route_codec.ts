/**
 * RTM_*ROUTE requests and replies. Defaults follow iproute2 so a route added
 * here equals one added with `ip route add` (protocol boot, scope link when
 * there is no gateway, scope "nowhere" = any when deleting). Pure.
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_F_CLONED,
  RTM_NEWROUTE,
  RTMSG_LEN,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_BOOT,
} from "./constants.ts";
import { formatIp, parseCidr, parseIp } from "./ip.ts";
import { getU32, getU8, type MessageBuilder, type NlMsg, parseAttrs } from "./message.ts";
import type { Family } from "../../net/mod.ts";
import type { Route, RouteScope, RouteType } from "./types.ts";
import { afOf } from "./addr_codec.ts";

const TYPES: RouteType[] = [
  "unicast",
  "local",
  "broadcast",
  "anycast",
  "multicast",
  "blackhole",
  "unreachable",
  "prohibit",
  "throw",
];

/** RTN_* number of a route type (unicast = 1). */
export function routeTypeNumber(t: RouteType | undefined): number {
  return t === undefined ? RTN_UNICAST : TYPES.indexOf(t) + 1;
}

const SCOPES: Record<RouteScope, number> = {
  universe: RT_SCOPE_UNIVERSE,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
};

function scopeName(n: number): RouteScope | undefined {
  return n === RT_SCOPE_UNIVERSE
    ? "universe"
    : n === RT_SCOPE_LINK
    ? "link"
    : n === RT_SCOPE_HOST
    ? "host"
    : undefined;
}

/** The scope iproute2 would pick for a route that names none. */
export function defaultScope(r: Route): RouteScope {
  const t = r.type ?? "unicast";
  if (t === "local") return "host";
  if (t === "broadcast" || t === "multicast" || t === "anycast") return "link";
  if (t === "unicast" && r.gateway === undefined) return "link";
  return "universe";
}

/** RTM_GETROUTE dump body for one family or both. */
export function encodeDumpRoutes(b: MessageBuilder, family?: Family): void {
  b.setU8(b.reserve(RTMSG_LEN), afOf(family));
}

/**
 * RTM_NEWROUTE/RTM_DELROUTE body. When deleting, fields left undefined match
 * any value (protocol 0, scope nowhere, type 0), as `ip route del` does.
 */
export function encodeRoute(b: MessageBuilder, r: Route, remove: boolean): void {
  const dst = parseCidr(r.dst);
  const table = r.table ?? RT_TABLE_MAIN;
  const at = b.reserve(RTMSG_LEN);
  const scope = r.scope !== undefined
    ? SCOPES[r.scope]
    : remove
    ? RT_SCOPE_NOWHERE
    : SCOPES[defaultScope(r)];
  b.setU8(at, dst.family === 4 ? AF_INET : AF_INET6)
    .setU8(at + 1, dst.prefix)
    .setU8(at + 4, table < 256 ? table : RT_TABLE_UNSPEC)
    .setU8(at + 5, r.protocol ?? (remove ? 0 : RTPROT_BOOT))
    .setU8(at + 6, scope)
    .setU8(at + 7, remove && r.type === undefined ? 0 : routeTypeNumber(r.type))
    .setU32(at + 8, r.onlink ? RTNH_F_ONLINK : 0);
  if (dst.prefix > 0) b.attr(RTA_DST, dst.bytes);
  if (r.gateway !== undefined) b.attr(RTA_GATEWAY, parseIp(r.gateway).bytes);
  if (r.linkIndex !== undefined) b.attrU32(RTA_OIF, r.linkIndex);
  if (r.src !== undefined) b.attr(RTA_PREFSRC, parseIp(r.src).bytes);
  if (r.metric !== undefined) b.attrU32(RTA_PRIORITY, r.metric);
  if (table >= 256) b.attrU32(RTA_TABLE, table);
}

/**
 * Decodes an RTM_NEWROUTE/RTM_DELROUTE message into a Route; undefined for
 * other families, cloned (cache) entries and unknown route types.
 */
export function decodeRoute(m: NlMsg): Route | undefined {
  if ((m.type !== RTM_NEWROUTE && m.type !== RTM_DELROUTE) || m.body.length < RTMSG_LEN) {
    return undefined;
  }
  const af = getU8(m.body, 0);
  if (af !== AF_INET && af !== AF_INET6) return undefined;
  const flags = getU32(m.body, 8);
  if (flags & RTM_F_CLONED) return undefined;
  const typeNum = getU8(m.body, 7);
  const type = TYPES[typeNum - 1];
  if (!type) return undefined;
  const family: Family = af === AF_INET ? 4 : 6;
  const a = parseAttrs(m.body, RTMSG_LEN);
  const dstLen = getU8(m.body, 1);
  const dst = a.get(RTA_DST);
  const table = a.get(RTA_TABLE);
  const route: Route = {
    family,
    dst: `${formatIp(dst ?? new Uint8Array(family === 4 ? 4 : 16))}/${dstLen}`,
    protocol: getU8(m.body, 5),
    table: table ? getU32(table) : getU8(m.body, 4),
  };
  const gw = a.get(RTA_GATEWAY);
  if (gw) route.gateway = formatIp(gw);
  const oif = a.get(RTA_OIF);
  if (oif) route.linkIndex = getU32(oif);
  const scope = scopeName(getU8(m.body, 6));
  if (scope) route.scope = scope;
  if (flags & RTNH_F_ONLINK) route.onlink = true;
  const src = a.get(RTA_PREFSRC);
  if (src) route.src = formatIp(src);
  const prio = a.get(RTA_PRIORITY);
  if (prio) route.metric = getU32(prio);
  if (type !== "unicast") route.type = type;
  return route;
}
