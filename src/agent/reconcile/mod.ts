/**
 * The agent's level-triggered core: the desired state computed from the
 * datastore's nodes (pure), the reconciler that reads what the node has,
 * applies the difference through the routes, vxlan, firewall and install
 * folders and reports it, the debounced loop that drives it, and the node's
 * own registration.
 *
 * Owns: the trust gate (trust.ts: no datastore value is routed before it is
 * validated and owned), desired-state computation, the resync pass as named
 * steps (steps.ts) and their order, the loop's timing and its event
 * triggers, forwarding sysctls. Must not: encode kernel or firewall payloads
 * (routes/, vxlan/, firewall/ do), parse flags (cli/), or talk to a datastore
 * other than through the `Datastore` interface.
 * @module
 */
export {
  computeDesired,
  type DesiredInput,
  type DesiredRoute,
  type DesiredState,
  type LocalAddress,
  onLinkAddress,
  type PeerMode,
  type PeerPlan,
  podCidrsOf,
  SKIP_REASONS,
  type SkipReason,
  type VxlanPeer,
} from "./desired_state.ts";
export { detectUplink, readLocalAddrs, type Uplink, type UplinkOptions } from "./local.ts";
export { backoffMs, type LoopOptions, runLoop, Waker } from "./loop.ts";
export {
  type ReconcileConfig,
  Reconciler,
  type ReconcilerDeps,
  type ResyncResult,
} from "./reconciler.ts";
export {
  denoWatch,
  type FileWatch,
  linkEventWantsPass,
  type OpenWatch,
  WATCH_RETRY_MS,
  watchOwnedFiles,
} from "./triggers.ts";
export {
  badGatewayWhy,
  endpointIps,
  type Reject,
  REJECT_REASONS,
  type RejectReason,
  type Trusted,
  type TrustInput,
  trustNodes,
  type TrustPolicy,
} from "./trust.ts";
export { RejectReporter, WARN_BURST, WARN_WINDOW_MS } from "./trust_report.ts";
export { type PassTally } from "./pass.ts";
export {
  desiredStep,
  firewallSpecOf,
  mayDelete,
  type Observed,
  readStep,
  type StepDeps,
  trustStep,
} from "./steps.ts";
export {
  REREGISTER_BACKOFF_MS,
  SelfRegistration,
  type SelfRegistrationDeps,
} from "./registration.ts";
