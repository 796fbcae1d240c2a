/**
 * The hostgate agent: routes to every other node's pod subnet (direct, or
 * through its VXLAN device across L2 segments), FORWARD and
 * MASQUERADE rules, plugin and conflist install, health and metrics. The
 * program is main.ts; this module exports the parts other code (the demo
 * harness, the benchmark, tests) builds on.
 * @module
 */
export {
  type AgentConfig,
  type Backend,
  type Command,
  commandHelp,
  ConfigError,
  type DatastoreKind,
  type FirewallBackendName,
  type IpamMode,
  OPTIONS,
  parseConfig,
  parseDuration,
  usage,
} from "./config.ts";
export {
  computeDesired,
  type DesiredInput,
  type DesiredRoute,
  type DesiredState,
  type LocalAddress,
  type PeerMode,
  type PeerPlan,
  podCidrsOf,
  type SkipReason,
  type VxlanPeer,
} from "./desired_state.ts";
export {
  canonMac,
  podMtu,
  usableVtep,
  usesVxlan,
  vtepFor,
  vtepMac,
  VXLAN_OVERHEAD,
} from "./vtep.ts";
export {
  applyVxlanRemovals,
  applyVxlanSets,
  ensureVxlanDevice,
  planVxlan,
  readVxlanEntries,
  removeVxlanDevices,
  vtepOfDevice,
  type VxlanDeviceSpec,
  type VxlanEntries,
  type VxlanPlan,
} from "./vxlan.ts";
export {
  applyRoutePlan,
  ownRoutes,
  planRoutes,
  removeAllRoutes,
  type RoutePlan,
  syncRoutes,
} from "./routes.ts";
export {
  FILTER_CHAIN,
  type FirewallSpec,
  inspectIptables,
  NAT_CHAIN,
  NFT_TABLE,
  renderIptablesRemoval,
  renderIptablesRestore,
  renderNft,
} from "./firewall.ts";
export {
  createFirewallDriver,
  type FirewallDriver,
  IptablesDriver,
  NftDriver,
  NoFirewall,
} from "./firewall_sync.ts";
export {
  type ConflistConfig,
  conflistFor,
  type ConflistIppool,
  conflistIppool,
  type ConflistSpec,
  DEFAULT_IPAM_DIR,
  renderConflist,
} from "./conflist.ts";
export { conflistPath, ensureConflist, installBinary, installPlugins } from "./install.ts";
export { Reconciler, type ReconcilerDeps, type ResyncResult } from "./reconcile.ts";
export { runAgent, type RunDeps } from "./run.ts";
export { handleHealth, type HealthSource, serveHealth } from "./health.ts";
export { M as METRIC_NAMES, Metrics } from "./metrics.ts";
export { type CommandDeps, installCommand, statusCommand, uninstallCommand } from "./commands.ts";
export { buildStatus, renderStatus, type StatusReport } from "./status.ts";
export { createLogger, type Logger, memoryLogger } from "./log.ts";
