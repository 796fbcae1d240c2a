/**
 * Host-gateway routes to other nodes' pod subnets: read the routes tagged
 * with hostgate's protocol number, plan the difference to the desired ones,
 * apply it, and suppress the echo of our own writes. (The pod bridge is
 * ensured by src/system/netlink/bridge.ts, shared with the plugin.)
 *
 * Owns: every route with protocol 151 in the node's netns. Must not: touch routes of any other protocol,
 * decide which peers get routes (reconcile/ does), or touch VXLAN devices.
 * @module
 */
export { RouteExpectation } from "./route_echo.ts";
export { removeOldGateways } from "./bridge_gateways.ts";
export {
  applyRoutePlan,
  ownRoutes,
  planIsEmpty,
  planRoutes,
  removeAllRoutes,
  type RouteApplyResult,
  routeMatches,
  type RoutePlan,
  spreadMetric,
  syncRoutes,
  toKernelRoute,
} from "./routes.ts";
