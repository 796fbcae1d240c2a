/**
 * Tells the route monitor's events apart: the echo of the agent's own writes
 * (nothing to do) from changes made behind its back (a pass must repair
 * them). Without this every route the agent writes wakes it for a second,
 * empty pass, which costs a full read of the kernel and the rules on every
 * node at every datastore change.
 * @module
 */
import {
  HOSTGATE_ROUTE_PROTOCOL,
  type RouteEvent,
  RT_TABLE_MAIN,
} from "../../system/netlink/types.ts";
import { canonIp, isCidr, isIp, normalizeCidr } from "../../net/mod.ts";
import { isPodRoute } from "../../plugin/wiring/routed.ts";
import type { DesiredRoute } from "../reconcile/mod.ts";

/** The routes the last pass asked for, keyed by destination. */
export class RouteExpectation {
  #want = new Map<string, DesiredRoute>();

  /** Records what a pass is about to apply (before it writes). */
  set(routes: readonly DesiredRoute[]): void {
    this.#want = new Map(routes.map((r) => [r.dst, r]));
  }

  /**
   * True when `ev` needs no pass: a hostgate route (protocol 151, main table)
   * appearing exactly as wanted, or one disappearing that is not wanted. A
   * wanted route deleted or changed, and any change to another owner's route
   * (connected routes, conflicts), is not an echo.
   */
  isEcho(ev: RouteEvent): boolean {
    const r = ev.route;
    if (r.protocol !== HOSTGATE_ROUTE_PROTOCOL || (r.table ?? RT_TABLE_MAIN) !== RT_TABLE_MAIN) {
      return false;
    }
    // A pod's host route (routed mode) is the plugin's: no pass for a pod coming or going.
    if (isPodRoute(r)) return true;
    if (!isCidr(r.dst)) return false;
    const want = this.#want.get(normalizeCidr(r.dst));
    if (ev.kind === "delete") return want === undefined;
    return want !== undefined && r.gateway !== undefined && isIp(r.gateway) &&
      canonIp(r.gateway) === want.gateway &&
      (r.linkIndex === undefined || r.linkIndex === want.linkIndex) &&
      (r.onlink === true) === (want.onlink === true);
  }
}
