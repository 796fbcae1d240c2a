/**
 * Address and route semantics of the fake, modelled on what the kernel does
 * (checked against it in tests/netlink_test.ts): prefix routes follow
 * addresses and link state, gateways must be reachable unless onlink, EEXIST
 * on an equal route (same table, dst, metric), ESRCH when deleting nothing.
 * @module
 */

import { RT_TABLE_MAIN, RTPROT_BOOT, RTPROT_KERNEL } from "./constants.ts";
import { Errno, kernelError } from "./errno.ts";
import type { FakeNs } from "./fake_world.ts";
import {
  bytesContainIp,
  formatCidr,
  formatIp,
  isNetworkAddress,
  maskBytes,
  parseCidr,
  parseIp,
} from "./ip.ts";
import { defaultScope } from "./route_codec.ts";
import type { AddAddrOptions, Address, Route, RouteEvent, RouteFilter } from "./types.ts";

/** Route changes an operation caused, for the monitors. */
export type Changes = RouteEvent[];

function fail(errno: number, action: string, subject: "addr" | "route" | "link") {
  return kernelError({ errno, action, subject });
}

/** The link at `index` or LinkNotFoundError. */
export function needLink(ns: FakeNs, index: number, action: string) {
  const link = ns.links.get(index);
  if (!link) throw fail(Errno.ENODEV, action, "link");
  return link;
}

function prefixRoute(a: Address): Route | undefined {
  const c = parseCidr(a.cidr);
  if (c.prefix === (c.family === 4 ? 32 : 128)) return undefined;
  const dst = formatCidr({ bytes: maskBytes(c.bytes, c.prefix), prefix: c.prefix });
  return c.family === 4
    ? {
      family: 4,
      dst,
      protocol: RTPROT_KERNEL,
      table: RT_TABLE_MAIN,
      linkIndex: a.linkIndex,
      scope: "link",
      src: formatIp(c.bytes),
    }
    : {
      family: 6,
      dst,
      protocol: RTPROT_KERNEL,
      table: RT_TABLE_MAIN,
      linkIndex: a.linkIndex,
      scope: "universe",
      metric: 256,
    };
}

function hasPrefixRoute(ns: FakeNs, r: Route): boolean {
  return ns.routes.some((x) =>
    x.protocol === RTPROT_KERNEL && x.dst === r.dst && x.linkIndex === r.linkIndex
  );
}

/** Adds the kernel prefix routes of the link's addresses (address add, link up). */
export function addPrefixRoutes(ns: FakeNs, linkIndex: number): Changes {
  const out: Changes = [];
  for (const a of ns.addrs.filter((x) => x.linkIndex === linkIndex)) {
    const r = prefixRoute(a);
    if (!r || hasPrefixRoute(ns, r)) continue;
    ns.routes.push(r);
    out.push({ kind: "add", route: structuredClone(r) });
  }
  return out;
}

/** Removes every route through a link (link down or deleted), as IPv4/IPv6 do. */
export function dropLinkRoutes(ns: FakeNs, linkIndex: number): void {
  ns.routes = ns.routes.filter((r) => r.linkIndex !== linkIndex);
}

/** Adds an address (EEXIST as the kernel: v4 same ip+prefix, v6 same ip). */
export function addAddr(ns: FakeNs, o: AddAddrOptions): Changes {
  const action = `add address ${o.cidr} to link ${o.linkIndex}`;
  const link = needLink(ns, o.linkIndex, action);
  const c = parseCidr(o.cidr);
  const cidr = formatCidr(c);
  const ip = formatIp(c.bytes);
  const dup = ns.addrs.some((a) =>
    a.linkIndex === o.linkIndex &&
    (c.family === 4 ? a.cidr === cidr : a.family === 6 && a.cidr.split("/")[0] === ip)
  );
  if (dup) throw fail(Errno.EEXIST, action, "addr");
  ns.addrs.push({ linkIndex: o.linkIndex, cidr, family: c.family });
  return link.up ? addPrefixRoutes(ns, o.linkIndex) : [];
}

/** Deletes an address and its prefix route when no other address needs it. */
export function deleteAddr(ns: FakeNs, o: { linkIndex: number; cidr: string }): Changes {
  const action = `delete address ${o.cidr} from link ${o.linkIndex}`;
  needLink(ns, o.linkIndex, action);
  const cidr = formatCidr(parseCidr(o.cidr));
  const i = ns.addrs.findIndex((a) => a.linkIndex === o.linkIndex && a.cidr === cidr);
  if (i < 0) throw fail(Errno.EADDRNOTAVAIL, action, "addr");
  const [gone] = ns.addrs.splice(i, 1);
  const r = prefixRoute(gone!);
  if (!r) return [];
  const still = ns.addrs.some((a) => a.linkIndex === o.linkIndex && prefixRoute(a)?.dst === r.dst);
  if (still) return [];
  const j = ns.routes.findIndex((x) =>
    x.protocol === RTPROT_KERNEL && x.dst === r.dst && x.linkIndex === r.linkIndex
  );
  if (j < 0) return [];
  const [removed] = ns.routes.splice(j, 1);
  return [{ kind: "delete", route: removed! }];
}

function routeAction(verb: string, r: Route): string {
  return `${verb} route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}`;
}

/** Validates a route like the kernel and returns the form a listing shows. */
function normalize(ns: FakeNs, r: Route, action: string): Route {
  const dst = parseCidr(r.dst);
  if (dst.family === 4 && !isNetworkAddress(dst)) throw fail(Errno.EINVAL, action, "route");
  const out: Route = {
    family: dst.family,
    dst: formatCidr({ bytes: maskBytes(dst.bytes, dst.prefix), prefix: dst.prefix }),
    protocol: r.protocol ?? RTPROT_BOOT,
    table: r.table ?? RT_TABLE_MAIN,
    scope: dst.family === 6 ? "universe" : r.scope ?? defaultScope(r),
  };
  if (r.type && r.type !== "unicast") out.type = r.type;
  const needsDev = out.type === undefined || out.type === "local";
  let linkIndex = r.linkIndex;
  if (linkIndex !== undefined) {
    const link = needLink(ns, linkIndex, action);
    if (!link.up) throw fail(Errno.ENETDOWN, action, "route");
  }
  if (r.gateway !== undefined) {
    const gw = parseIp(r.gateway);
    if (gw.family !== dst.family) throw fail(Errno.EINVAL, action, "route");
    const linkLocal = gw.family === 6 && gw.bytes[0] === 0xfe && (gw.bytes[1]! & 0xc0) === 0x80;
    if (r.onlink || (linkLocal && linkIndex !== undefined)) {
      if (linkIndex === undefined) throw fail(Errno.EINVAL, action, "route");
    } else {
      const via = ns.routes.find((x) =>
        x.family === gw.family && x.gateway === undefined && x.type === undefined &&
        (x.table === out.table || x.table === RT_TABLE_MAIN) &&
        (linkIndex === undefined || x.linkIndex === linkIndex) &&
        x.linkIndex !== undefined && ns.links.get(x.linkIndex)?.up &&
        bytesContainIp(parseCidr(x.dst), gw)
      );
      if (!via) {
        throw fail(gw.family === 4 ? Errno.ENETUNREACH : Errno.EHOSTUNREACH, action, "route");
      }
      linkIndex = via.linkIndex;
    }
    out.gateway = formatIp(gw.bytes);
  } else if (needsDev && linkIndex === undefined) {
    throw fail(Errno.EINVAL, action, "route");
  }
  if (linkIndex !== undefined) out.linkIndex = linkIndex;
  if (r.onlink) out.onlink = true;
  if (r.src !== undefined) {
    const src = formatIp(parseIp(r.src).bytes);
    if (!ns.addrs.some((a) => a.cidr.split("/")[0] === src)) {
      throw fail(Errno.EINVAL, action, "route");
    }
    out.src = src;
  }
  const metric = r.metric ?? (dst.family === 6 ? 1024 : 0);
  if (metric !== 0) out.metric = metric;
  return out;
}

function sameSlot(a: Route, b: Route): boolean {
  return a.table === b.table && a.dst === b.dst && (a.metric ?? 0) === (b.metric ?? 0);
}

/** Adds (EEXIST on an equal slot) or, with `replace`, replaces a route. */
export function addRoute(ns: FakeNs, r: Route, replace: boolean): Changes {
  const route = normalize(ns, r, routeAction(replace ? "replace" : "add", r));
  const i = ns.routes.findIndex((x) => sameSlot(x, route));
  if (i >= 0 && !replace) throw fail(Errno.EEXIST, routeAction("add", r), "route");
  if (i >= 0) ns.routes[i] = route;
  else ns.routes.push(route);
  return [{ kind: "add", route: structuredClone(route) }];
}

/** Deletes the first route matching every field the request sets; ESRCH if none. */
export function deleteRoute(ns: FakeNs, r: Route): Changes {
  const action = routeAction("delete", r);
  const dst = parseCidr(r.dst);
  if (dst.family === 4 && !isNetworkAddress(dst)) throw fail(Errno.EINVAL, action, "route");
  const want = formatCidr({ bytes: maskBytes(dst.bytes, dst.prefix), prefix: dst.prefix });
  const gw = r.gateway === undefined ? undefined : formatIp(parseIp(r.gateway).bytes);
  const table = r.table ?? RT_TABLE_MAIN;
  const i = ns.routes.findIndex((x) =>
    x.dst === want && x.table === table &&
    (r.protocol === undefined || x.protocol === r.protocol) &&
    (gw === undefined || x.gateway === gw) &&
    (r.linkIndex === undefined || x.linkIndex === r.linkIndex) &&
    (r.metric === undefined || (x.metric ?? 0) === r.metric) &&
    (r.scope === undefined || x.scope === r.scope) &&
    (r.type === undefined || (x.type ?? "unicast") === r.type)
  );
  if (i < 0) throw fail(Errno.ESRCH, action, "route");
  const [gone] = ns.routes.splice(i, 1);
  return [{ kind: "delete", route: gone! }];
}

/** The routes a real listing with `filter` would return. */
export function filterRoutes(routes: Route[], filter: RouteFilter): Route[] {
  const table = filter.table ?? RT_TABLE_MAIN;
  return routes.filter((r) =>
    (filter.family === undefined || r.family === filter.family) &&
    (table === 0 || r.table === table) &&
    (filter.protocol === undefined || r.protocol === filter.protocol) &&
    (filter.linkIndex === undefined || r.linkIndex === filter.linkIndex)
  );
}
