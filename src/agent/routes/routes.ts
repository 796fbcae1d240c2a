/**
 * Route diff and apply. The plan is pure: desired routes (host-gw, and the
 * onlink routes via a peer's VTEP on the vxlan device) against the
 * kernel's routes carrying HOSTGATE_ROUTE_PROTOCOL (nothing else is ever
 * looked at or touched). A correct route is left alone (no delete + re-add,
 * so a restart never flaps the data plane); a wrong gateway is replaced in
 * place; a route whose node is gone is deleted, also one left by an earlier
 * run of the agent.
 * @module
 */
import { ExistsError, NotFoundError } from "../../system/netlink/errors.ts";
import {
  HOSTGATE_ROUTE_PROTOCOL,
  type NetlinkHandle,
  type Route,
} from "../../system/netlink/types.ts";
import { canonIp, normalizeCidr } from "../../net/mod.ts";
import { isPodRoute } from "../../plugin/wiring/routed.ts";
import type { DesiredRoute } from "../reconcile/mod.ts";
import type { Fields, Logger } from "../observe/mod.ts";

const MAIN_TABLE = 254;

/** What to change. */
export interface RoutePlan {
  add: DesiredRoute[];
  /** Routes whose gateway or link is wrong, with the kernel's current route. */
  replace: { want: DesiredRoute; have: Route }[];
  remove: Route[];
  /** Desired routes already correct. */
  unchanged: DesiredRoute[];
}

/** Counts of a finished apply, and the errors met on the way (it keeps going). */
export interface RouteApplyResult {
  added: number;
  replaced: number;
  removed: number;
  /** Routes that could not be added because a route of another owner has the dst. */
  conflicts: string[];
  errors: Error[];
}

/**
 * The agent's own routes in the main table, from a kernel listing. The
 * plugin's per-pod host routes (routed mode: same protocol, no gateway) are
 * the plugin's: never diffed, replaced or removed here.
 */
export function ownRoutes(routes: readonly Route[]): Route[] {
  return routes.filter((r) =>
    r.protocol === HOSTGATE_ROUTE_PROTOCOL && (r.table ?? MAIN_TABLE) === MAIN_TABLE &&
    !isPodRoute(r)
  );
}

/** True when the kernel route is exactly the desired one. */
export function routeMatches(want: DesiredRoute, have: Route): boolean {
  return normalizeCidr(have.dst) === want.dst &&
    have.gateway !== undefined && canonIp(have.gateway) === want.gateway &&
    (have.linkIndex === undefined || have.linkIndex === want.linkIndex) &&
    (have.onlink === true) === (want.onlink === true);
}

/**
 * Diffs desired against actual (already filtered with `ownRoutes`). With
 * `allowDelete` false (datastore unreachable, own entry missing) nothing is
 * removed: stale knowledge must never tear down working routes.
 */
export function planRoutes(
  desired: readonly DesiredRoute[],
  actual: readonly Route[],
  opts: { allowDelete: boolean },
): RoutePlan {
  const byDst = new Map<string, Route[]>();
  for (const r of actual) {
    const k = normalizeCidr(r.dst);
    byDst.set(k, [...(byDst.get(k) ?? []), r]);
  }
  const plan: RoutePlan = { add: [], replace: [], remove: [], unchanged: [] };
  const wanted = new Set<string>();
  for (const want of desired) {
    wanted.add(want.dst);
    const have = byDst.get(want.dst) ?? [];
    const good = have.find((r) => routeMatches(want, r));
    if (good) {
      plan.unchanged.push(want);
      if (opts.allowDelete) plan.remove.push(...have.filter((r) => r !== good));
    } else if (have.length > 0) {
      plan.replace.push({ want, have: have[0]! });
      if (opts.allowDelete) plan.remove.push(...have.slice(1));
    } else {
      plan.add.push(want);
    }
  }
  if (opts.allowDelete) {
    for (const [dst, rs] of byDst) if (!wanted.has(dst)) plan.remove.push(...rs);
  }
  return plan;
}

/** True when applying the plan would write nothing. */
export function planIsEmpty(plan: RoutePlan): boolean {
  return plan.add.length === 0 && plan.replace.length === 0 && plan.remove.length === 0;
}

/**
 * The metric of an IPv4 route via `gateway`: 0-255 from a hash of the
 * gateway. The kernel finds an existing nexthop for a new IPv4 route by a
 * hash of its device, protocol, scope and metric, not of its gateway, so
 * thousands of routes via distinct peers on one uplink with one metric land
 * in a single hash chain and every add walks all of it: 5,000 peers took
 * ~0.45 s of kernel time, ~0.05 s with the metric spread like this. The
 * metric changes nothing else, as each peer subnet has one route; a route
 * of another owner on the same subnet is found by `applyRoutePlan` whatever
 * its metric. IPv6 keeps the kernel's default (its table has no such chain).
 */
export function spreadMetric(gateway: string): number {
  let h = FNV1A_OFFSET_BASIS;
  for (let i = 0; i < gateway.length; i++) h = Math.imul(h ^ gateway.charCodeAt(i), FNV1A_PRIME);
  return (h >>> 0) % METRIC_SPREAD;
}

/** 32-bit FNV-1a: a cheap, well-spread hash of the gateway text. */
const FNV1A_OFFSET_BASIS = 0x811c9dc5;
const FNV1A_PRIME = 0x01000193;
/** How many metrics the IPv4 routes spread over (one hash chain each in the kernel). */
const METRIC_SPREAD = 256;

/** The kernel route for a desired one, stamped with hostgate's protocol. */
export function toKernelRoute(d: DesiredRoute): Route {
  const r: Route = {
    family: d.family,
    dst: d.dst,
    gateway: d.gateway,
    linkIndex: d.linkIndex,
    protocol: HOSTGATE_ROUTE_PROTOCOL,
    table: MAIN_TABLE,
  };
  if (d.family === 4) r.metric = spreadMetric(d.gateway);
  if (d.onlink) r.onlink = true;
  return r;
}

/**
 * Destinations of routes of other owners (any metric) in the main table:
 * adding ours beside one would either fail or shadow it, so it is a conflict.
 */
function foreignDsts(handle: NetlinkHandle, adds: readonly DesiredRoute[]): Set<string> {
  const out = new Set<string>();
  for (const family of new Set(adds.map((a) => a.family))) {
    for (const r of handle.listRoutes({ family })) {
      if (r.protocol !== HOSTGATE_ROUTE_PROTOCOL) out.add(normalizeCidr(r.dst));
    }
  }
  return out;
}

/** A kernel route as the key fields for a delete (its own metric kept). */
function deletionOf(r: Route): Route {
  return {
    family: r.family,
    dst: r.dst,
    gateway: r.gateway,
    linkIndex: r.linkIndex,
    protocol: HOSTGATE_ROUTE_PROTOCOL,
    table: r.table ?? MAIN_TABLE,
    metric: r.metric,
  };
}

/** Applies a plan; every step is attempted even when an earlier one fails. */
export function applyRoutePlan(handle: NetlinkHandle, plan: RoutePlan): RouteApplyResult {
  const res: RouteApplyResult = { added: 0, replaced: 0, removed: 0, conflicts: [], errors: [] };
  // Removals first: a subnet that moved from a gone node to a new one frees its dst.
  for (const r of plan.remove) {
    try {
      handle.deleteRoute(deletionOf(r));
      res.removed++;
    } catch (e) {
      if (!(e instanceof NotFoundError)) res.errors.push(e as Error);
    }
  }
  for (const { want, have } of plan.replace) {
    try {
      handle.replaceRoute({ ...toKernelRoute(want), metric: have.metric });
      res.replaced++;
    } catch (e) {
      res.errors.push(e as Error);
    }
  }
  let foreign: Set<string> | undefined;
  try {
    if (plan.add.length > 0) foreign = foreignDsts(handle, plan.add);
  } catch (e) {
    res.errors.push(e as Error);
    return res;
  }
  for (const want of plan.add) {
    if (foreign?.has(want.dst)) {
      res.conflicts.push(want.dst);
      continue;
    }
    try {
      handle.addRoute(toKernelRoute(want));
      res.added++;
    } catch (e) {
      if (e instanceof ExistsError) res.conflicts.push(want.dst);
      else res.errors.push(e as Error);
    }
  }
  return res;
}

/** Deletes every hostgate route (both families, main table); returns how many. */
export function removeAllRoutes(handle: NetlinkHandle): number {
  let n = 0;
  for (const family of [4, 6] as const) {
    for (const r of ownRoutes(handle.listRoutes({ family, protocol: HOSTGATE_ROUTE_PROTOCOL }))) {
      try {
        handle.deleteRoute(deletionOf(r));
        n++;
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
  }
  return n;
}

/** Changes of one kind logged line by line; more than this make one summary line. */
const LOG_EACH_MAX = 16;

/**
 * Logs each change at info, or, for a burst (a cold start against thousands
 * of nodes), one info line with the count and the details at debug: 5,000
 * formatted lines cost more than the route writes they describe.
 */
function logEach<T>(
  log: Logger,
  msg: string,
  items: readonly T[],
  fields: (x: T) => Fields,
): void {
  if (items.length <= LOG_EACH_MAX) {
    for (const x of items) log.info(msg, fields(x));
    return;
  }
  log.info(msg.replace("route ", "routes "), { count: String(items.length) });
  for (const x of items) log.debug(msg, fields(x));
}

/**
 * One route step of a pass: lists hostgate's routes, plans against
 * `desired`, applies and logs every change. Errors are in the result.
 */
export function syncRoutes(
  handle: NetlinkHandle,
  o: { desired: readonly DesiredRoute[]; allowDelete: boolean; log: Logger },
): RouteApplyResult {
  const actual: Route[] = [];
  for (const family of [4, 6] as const) {
    actual.push(...ownRoutes(handle.listRoutes({ family, protocol: HOSTGATE_ROUTE_PROTOCOL })));
  }
  const plan = planRoutes(o.desired, actual, { allowDelete: o.allowDelete });
  const res = applyRoutePlan(handle, plan);
  const dev = (d: DesiredRoute) => d.onlink ? { dev: String(d.linkIndex), onlink: "true" } : {};
  const conflicts = new Set(res.conflicts);
  logEach(o.log, "route added", plan.add.filter((d) => !conflicts.has(d.dst)), (d) => ({
    peer: d.peer,
    dst: d.dst,
    via: d.gateway,
    ...dev(d),
  }));
  logEach(o.log, "route replaced", plan.replace, (r) => ({
    peer: r.want.peer,
    dst: r.want.dst,
    via: r.want.gateway,
    was: r.have.gateway ?? "",
    ...dev(r.want),
  }));
  logEach(o.log, "route removed", plan.remove, (r) => ({ dst: r.dst, via: r.gateway ?? "" }));
  for (const dst of res.conflicts) {
    o.log.warn("route not added: a route of another owner has this destination", { dst });
  }
  return res;
}
