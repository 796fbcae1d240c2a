/**
 * The VXLAN overlay for peers that are not on-link: each node's VTEP (its
 * address and a MAC derived from it), the one VXLAN device, and its
 * forwarding-database and neighbour entries per peer.
 *
 * Owns: the device named by --vxlan-device and the FDB/neighbour entries on
 * it. Must not: write routes (routes/ does, through the device), choose
 * which peers use VXLAN (reconcile/'s desired state does, with `usesVxlan`).
 * @module
 */
export {
  canonMac,
  DEFAULT_UPLINK_MTU,
  pickVtepMac,
  podMtu,
  randomVtepMac,
  sameVtep,
  usableVtep,
  usesVxlan,
  validVtepMac,
  vtepFor,
  VXLAN_OVERHEAD,
} from "./vtep.ts";
export {
  applyVxlanRemovals,
  applyVxlanSets,
  deviceMismatch,
  ensureVxlanDevice,
  planVxlan,
  readVxlanEntries,
  removeVxlanDevices,
  vtepOfDevice,
  type VxlanApplyResult,
  type VxlanDeviceResult,
  type VxlanDeviceSpec,
  type VxlanEntries,
  type VxlanPlan,
  vxlanPlanIsEmpty,
} from "./vxlan.ts";
export {
  planVxlanEntries,
  syncVxlanDevice,
  type VxlanConfig,
  type VxlanDeviceStep,
  type VxlanEntriesStep,
  type VxlanSyncDeps,
} from "./vxlan_sync.ts";
