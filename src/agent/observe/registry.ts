/**
 * Every metric the agent exports, declared once: name, type and help. Code
 * passes these definitions to the `Metrics` registry, so a name cannot be
 * used with two types or two help texts, and every unlabelled metric renders
 * (as 0) before its first change. Counters end in `_total`.
 * @module
 */

/** One metric's definition. */
export interface MetricDef {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly help: string;
}

function def(name: string, type: MetricDef["type"], help: string): MetricDef {
  if (type === "counter" && !name.endsWith("_total")) {
    throw new Error(`Cannot declare metric ${name}: a counter's name ends in _total`);
  }
  return Object.freeze({ name, type, help });
}

/** The catalog. */
export const M = {
  routesDesired: def("hostgate_routes_desired", "gauge", "Routes hostgate wants"),
  routesInstalled: def(
    "hostgate_routes_installed",
    "gauge",
    "Routes with hostgate's protocol in the kernel",
  ),
  routeWrites: def("hostgate_route_writes_total", "counter", "Route writes, by op"),
  routeConflicts: def(
    "hostgate_route_conflicts",
    "gauge",
    "Desired routes blocked by a route of another owner",
  ),
  peersSkipped: def(
    "hostgate_peers_skipped",
    "gauge",
    "Peers (per family) without a route, by reason",
  ),
  peersRejected: def(
    "hostgate_peers_rejected_total",
    "counter",
    "Datastore values the trust gate refused, by reason (each counted once when it appears)",
  ),
  peersRejectedNow: def(
    "hostgate_peers_rejected",
    "gauge",
    "Datastore values refused by the trust gate in the last pass, by reason",
  ),
  reconcileDuration: def(
    "hostgate_reconcile_duration_seconds",
    "histogram",
    "Duration of a reconcile pass",
  ),
  reconciles: def("hostgate_reconciles_total", "counter", "Reconcile passes"),
  reconcileErrors: def(
    "hostgate_reconcile_errors_total",
    "counter",
    "Reconcile passes with an error",
  ),
  firewallWrites: def("hostgate_firewall_writes_total", "counter", "Rule payloads applied"),
  conflistWrites: def("hostgate_conflist_writes_total", "counter", "Conflist writes"),
  pluginInstalls: def("hostgate_plugin_installs_total", "counter", "Plugin binaries written"),
  sysctlWrites: def("hostgate_sysctl_writes_total", "counter", "Forwarding sysctls set"),
  bridgeWrites: def("hostgate_bridge_writes_total", "counter", "Bridge and gateway writes"),
  datastoreEvents: def(
    "hostgate_datastore_events_total",
    "counter",
    "Datastore change events seen",
  ),
  datastoreConnected: def(
    "hostgate_datastore_connected",
    "gauge",
    "1 when the datastore is reachable",
  ),
  datastoreAuthoritative: def(
    "hostgate_datastore_authoritative",
    "gauge",
    "1 when the node list comes from a complete read (deletions allowed)",
  ),
  routeEvents: def(
    "hostgate_route_monitor_events_total",
    "counter",
    "Route changes seen by the monitor",
  ),
  ready: def("hostgate_ready", "gauge", "1 when routes, rules and conflist are in place"),
  vxlanWrites: def(
    "hostgate_vxlan_writes_total",
    "counter",
    "VXLAN device, neighbour and FDB writes",
  ),
  vxlanPeers: def("hostgate_vxlan_peers", "gauge", "Peers reached through VXLAN"),
  policies: def("hostgate_policies", "gauge", "NetworkPolicies known"),
  policyRules: def("hostgate_policy_nft_rules", "gauge", "nft rules in the policy table"),
  policyElements: def(
    "hostgate_policy_nft_set_elements",
    "gauge",
    "Set and verdict-map elements in the policy table",
  ),
  policyApplyDuration: def(
    "hostgate_policy_apply_duration_seconds",
    "histogram",
    "Time to diff and apply the policy table",
  ),
  policyApplies: def(
    "hostgate_policy_applies_total",
    "counter",
    "Policy table transactions applied",
  ),
  policyErrors: def(
    "hostgate_policy_errors_total",
    "counter",
    "Policy table writes or passes that failed",
  ),
  policyRejected: def(
    "hostgate_policy_rejected",
    "gauge",
    "Policy objects or rules refused at ingest (malformed rules are dropped: less is allowed)",
  ),
  policyDrops: def(
    "hostgate_policy_dropped_packets",
    "gauge",
    "Packets dropped by the deny rule of pods a policy isolates, by policy (nft counters)",
  ),
  podHostPorts: def(
    "hostgate_pod_hostports",
    "gauge",
    "hostPort mappings of this node's pods (the plugin's pod records)",
  ),
  podBandwidthLimits: def(
    "hostgate_pod_bandwidth_limits",
    "gauge",
    "Pods of this node with a bandwidth limit (the plugin's pod records)",
  ),
  healthListenErrors: def(
    "hostgate_health_listen_errors_total",
    "counter",
    "Failed attempts to open the health listener",
  ),
  pluginCalls: def(
    "hostgate_plugin_calls_total",
    "counter",
    "Plugin calls the agent ran for the plugin's thin client, by command and outcome (ok, error, dropped)",
  ),
} as const;

/** Every definition, for declaring them up front. */
export const ALL_METRICS: readonly MetricDef[] = Object.values(M);
