/**
 * The named steps of a reconcile pass, in order: read (kernel, datastore) →
 * trust (the gate) → desired (pure) → apply (diff and write, one step per
 * object class) → report (metrics, readiness). Each step is a function of
 * what the steps before it produced, so a test can run one alone; the
 * Reconciler only strings them together and keeps state between passes.
 * @module
 */
import type {
  Datastore,
  DatastoreHealth,
  EntryReject,
  NodeInfo,
  PodAddress,
  Vtep,
} from "../../datastore/mod.ts";
import type { FileSystem } from "../../system/fs.ts";
import type { Clock } from "../../system/clock.ts";
import {
  HOSTGATE_ROUTE_PROTOCOL,
  type NetlinkHandle,
  type Route,
} from "../../system/netlink/types.ts";
import { ensureBridge } from "../../system/netlink/bridge.ts";
import { familyOf } from "../../net/mod.ts";
import type { AgentConfig } from "../cli/mod.ts";
import {
  conflistFor,
  conflistPath,
  ensureConflist,
  ensureSecretModes,
  installPlugins,
  pluginPresent,
} from "../install/mod.ts";
import { computeDesired, type DesiredState, type LocalAddress } from "./desired_state.ts";
import type { FirewallDriver, FirewallSpec } from "../firewall/mod.ts";
import { detectUplink, readLocalAddrs, type Uplink } from "./local.ts";
import { type Logger, M, type Metrics } from "../observe/mod.ts";
import {
  ownRoutes,
  removeOldGateways,
  type RouteApplyResult,
  type RouteExpectation,
  syncRoutes,
} from "../routes/mod.ts";
import {
  planVxlanEntries,
  podMtu,
  syncVxlanDevice,
  usesVxlan,
  vtepOfDevice,
  type VxlanDeviceStep,
  type VxlanEntriesStep,
} from "../vxlan/mod.ts";
import type { SelfRegistration } from "./registration.ts";
import { type PassTally, throwFirst } from "./pass.ts";
import { endpointIps, incumbentsOf, type Trusted, trustNodes } from "./trust.ts";

/** The config fields a pass uses. */
export type ReconcileConfig =
  & Pick<
    AgentConfig,
    | "nodeName"
    | "nodeIps"
    | "iface"
    | "bridge"
    | "podMode"
    | "clusterCidrs"
    | "masquerade"
    | "mtu"
    | "backend"
    | "vxlanVni"
    | "vxlanPort"
    | "vxlanDevice"
    | "manageBridge"
    | "networkName"
    | "ipamDir"
    | "cniBinDir"
    | "cniConfDir"
    | "conflistName"
    | "pluginSrc"
    | "extraPlugins"
    | "resyncIntervalMs"
    | "ipam"
    | "ippoolName"
    | "ippoolKubeconfig"
    | "kubeconfig"
  >
  & Partial<
    Pick<
      AgentConfig,
      | "serviceCidrs"
      | "nodePrefixLengthV4"
      | "nodePrefixLengthV6"
      | "kubernetesApi"
      | "etcdEndpoints"
      | "datastore"
      | "installPlugin"
    >
  >;

/** What every step may use. */
export interface StepDeps {
  config: ReconcileConfig;
  /** The pass's cached handle. */
  handle: NetlinkHandle;
  datastore: Datastore;
  firewall: FirewallDriver;
  fs: FileSystem;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  self: SelfRegistration;
  expected: RouteExpectation;
}

/** What the read step saw. */
export interface Observed {
  uplink?: Uplink;
  nodeIps: string[];
  health: DatastoreHealth;
  /** The datastore's nodes as stored (this node included), untrusted. */
  nodes: NodeInfo[];
  localAddrs: LocalAddress[];
  podAddresses: PodAddress[];
  entryRejects: EntryReject[];
  /**
   * hostgate's own peer routes in the kernel when the pass began: who the
   * agent routes each subnet to, the incumbents of equal claims at start.
   */
  routes?: Route[];
}

/** Step 1, read: uplink, registration (and the watch), datastore state, local addresses. */
export async function readStep(d: StepDeps, pass: PassTally): Promise<Observed> {
  const { config: cfg, handle } = d;
  const uplink = await pass.step(
    "read the uplink",
    () => detectUplink(handle, { iface: cfg.iface, nodeIps: cfg.nodeIps, bridge: cfg.bridge }),
  );
  const nodeIps = uplink?.nodeIps ?? [];
  // A VTEP already announced (or on the device after a restart) is kept, never withdrawn.
  await pass.step("register with the datastore", () =>
    d.self.ensure(
      nodeIps,
      usesVxlan(cfg.backend) ? vtepOfDevice(handle, cfg.vxlanDevice) ?? d.self.vtep : undefined,
    ));
  const health = d.datastore.health();
  if (!health.connected) {
    pass.notReady.push(`datastore not connected: ${health.lastError ?? "unknown"}`);
  }
  const localAddrs = (await pass.step("read addresses", () => readLocalAddrs(handle))) ?? [];
  const routes = (await pass.step("read routes", () => readOwnRoutes(handle))) ?? [];
  return {
    routes,
    uplink,
    nodeIps,
    health,
    nodes: d.self.nodes(),
    localAddrs,
    podAddresses: d.datastore.podAddresses?.() ?? [],
    entryRejects: d.datastore.entryRejects?.() ?? [],
  };
}

/** hostgate's own peer routes in the kernel, both families. */
export function readOwnRoutes(handle: NetlinkHandle): Route[] {
  return ownRoutes([
    ...handle.listRoutes({ family: 4, protocol: HOSTGATE_ROUTE_PROTOCOL }),
    ...handle.listRoutes({ family: 6, protocol: HOSTGATE_ROUTE_PROTOCOL }),
  ]);
}

/**
 * Step 2, trust: the gate over what was read (pure). `accepted` are the
 * owners the previous pass kept (none at start: the kernel routes tell).
 */
export function trustStep(
  cfg: ReconcileConfig,
  o: Observed,
  accepted?: ReadonlyMap<string, string>,
): Trusted {
  const endpoints = [
    ...(cfg.kubernetesApi ? [cfg.kubernetesApi] : []),
    ...(cfg.datastore === "etcd" ? cfg.etcdEndpoints ?? [] : []),
  ];
  return trustNodes({
    selfName: cfg.nodeName,
    nodes: o.nodes,
    entryRejects: o.entryRejects,
    clusterCidrs: cfg.clusterCidrs,
    prefixLengths: { 4: cfg.nodePrefixLengthV4 ?? 24, 6: cfg.nodePrefixLengthV6 ?? 64 },
    serviceCidrs: cfg.serviceCidrs ?? [],
    protectedIps: endpointIps(endpoints),
    localAddrs: o.localAddrs,
    bridge: cfg.bridge,
    backend: cfg.backend,
    incumbents: incumbentsOf({ nodes: o.nodes, routes: o.routes ?? [], accepted }),
  });
}

/** Step 3, desired: routes, bridge gateways and tunnel entries from trusted nodes (pure). */
export function desiredStep(
  cfg: ReconcileConfig,
  i: { observed: Observed; trusted: Trusted; vxlanLinkIndex?: number; selfVtep?: Vtep },
): DesiredState {
  return computeDesired({
    selfName: cfg.nodeName,
    nodes: i.trusted.nodes,
    localAddrs: i.observed.localAddrs,
    bridge: cfg.bridge,
    backend: cfg.backend,
    vxlanLinkIndex: i.vxlanLinkIndex,
    podAddresses: i.observed.podAddresses,
    ...(i.selfVtep ? { selfVtep: i.selfVtep } : {}),
  });
}

/** True when this pass may delete: the list is complete and this node is in it. */
export function mayDelete(o: Observed, desired: DesiredState): boolean {
  return o.health.connected && o.health.authoritative !== false && desired.self !== undefined;
}

/** Apply: IP forwarding for each cluster family. */
export async function applyForwarding(d: StepDeps, pass: PassTally): Promise<void> {
  const n = await pass.step("enable forwarding", () => {
    const keys: string[] = [];
    const families = new Set(d.config.clusterCidrs.map(familyOf));
    if (families.has(4)) keys.push("net/ipv4/ip_forward");
    if (families.has(6)) keys.push("net/ipv6/conf/all/forwarding");
    let n = 0;
    for (const k of keys) {
      if (d.handle.getSysctl(k).trim() === "1") continue;
      d.handle.setSysctl(k, "1");
      d.log.info("forwarding enabled", { sysctl: k });
      n++;
    }
    return n;
  });
  if (n) d.metrics.inc(M.sysctlWrites, {}, n);
  pass.wrote(n);
}

/** Apply: the vxlan device (or its removal when the backend does not use one). */
export async function applyVxlanDevice(
  d: StepDeps,
  pass: PassTally,
  o: { uplink?: Uplink; selfPodCidrs: string[] },
): Promise<VxlanDeviceStep | undefined> {
  const overlay = { config: d.config, handle: d.handle, log: d.log, metrics: d.metrics };
  const device = await pass.step(
    "set up the vxlan device",
    () => syncVxlanDevice(overlay, { ...o, announcedMac: d.self.vtep?.mac }),
  );
  pass.wrote(device?.writes);
  return device;
}

/** Apply: tunnel entries, routes, stale tunnel entries, in that order. */
export async function applyRoutesAndTunnels(
  d: StepDeps,
  pass: PassTally,
  o: { desired: DesiredState; allowDelete: boolean; device?: VxlanDeviceStep },
): Promise<RouteApplyResult> {
  const { handle, log, metrics } = d;
  const overlay = { config: d.config, handle, log, metrics };
  const link = o.device?.link;
  const entries: VxlanEntriesStep | undefined = link
    ? await pass.step(
      "read vxlan entries",
      () => planVxlanEntries(overlay, { link, desired: o.desired, allowDelete: o.allowDelete }),
    )
    : undefined;
  // Entries first: a new route never points at a VTEP without a neighbour and FDB entry.
  await pass.step("sync vxlan entries", () => {
    const r = entries?.sets();
    pass.wrote((r?.neighbors ?? 0) + (r?.fdb ?? 0));
    if (r) throwFirst(r);
  });
  let routes: RouteApplyResult = { added: 0, replaced: 0, removed: 0, conflicts: [], errors: [] };
  await pass.step("sync routes", () => {
    d.expected.set(o.desired.routes);
    routes = syncRoutes(handle, { desired: o.desired.routes, allowDelete: o.allowDelete, log });
    throwFirst(routes);
  });
  // Counted even when the step threw: what did apply stays in the metrics.
  pass.wrote(routes.added + routes.replaced + routes.removed);
  metrics.inc(M.routeWrites, { op: "add" }, routes.added);
  metrics.inc(M.routeWrites, { op: "replace" }, routes.replaced);
  metrics.inc(M.routeWrites, { op: "delete" }, routes.removed);
  metrics.set(M.routeConflicts, routes.conflicts.length);
  metrics.set(M.routesDesired, o.desired.routes.length);
  const installed = await pass.step("count routes", () => readOwnRoutes(handle).length);
  metrics.set(M.routesInstalled, installed ?? 0);
  if (routes.conflicts.length > 0) {
    pass.notReady.push(`${routes.conflicts.length} route(s) blocked`);
  }
  await pass.step("remove stale vxlan entries", () => {
    const r = entries?.removals();
    pass.wrote((r?.neighbors ?? 0) + (r?.fdb ?? 0));
    if (r) throwFirst(r);
  });
  return routes;
}

/** Apply: the pod bridge with exactly this node's gateway addresses. */
export async function applyBridge(
  d: StepDeps,
  pass: PassTally,
  o: { desired: DesiredState; mtu: number; allowDelete: boolean },
): Promise<void> {
  // Routed pods need no bridge: their gateway is link-local, their routes the plugin's.
  if (d.config.podMode !== "bridge") return;
  if (!d.config.manageBridge || o.desired.bridgeGateways.length === 0) return;
  const n = await pass.step("ensure the bridge", () => {
    const gateways = o.desired.bridgeGateways;
    const { writes } = ensureBridge(d.handle, { name: d.config.bridge, mtu: o.mtu, gateways });
    const removed = o.allowDelete
      ? removeOldGateways(d.handle, { bridge: d.config.bridge, gateways, log: d.log })
      : 0;
    return writes + removed;
  });
  if (n) d.metrics.inc(M.bridgeWrites, {}, n);
  pass.wrote(n);
}

/**
 * Apply: the rules. They depend on the config only, and reading them spawns
 * iptables-save: while they are right, datastore and monitor triggers skip
 * them; they are re-read when `due`. Returns true when it wrote.
 */
export async function applyRules(
  d: StepDeps,
  pass: PassTally,
  o: { due: boolean; onOk: () => void; spec: FirewallSpec },
): Promise<boolean> {
  if (!o.due) return false;
  const spec = o.spec;
  const wrote = await pass.step("sync rules", async () => {
    const w = await d.firewall.sync(spec);
    o.onOk();
    return w;
  }) ?? false;
  if (wrote) {
    pass.wrote(1);
    d.metrics.inc(M.firewallWrites);
    d.log.info("rules written", { backend: d.firewall.name });
  }
  return wrote;
}

/**
 * The rules this pass wants (pure): the config's, plus the VXLAN guard with
 * the node IPs of the peers reached by VXLAN while this node runs a device.
 */
export function firewallSpecOf(cfg: ReconcileConfig, desired: DesiredState): FirewallSpec {
  const spec: FirewallSpec = { clusterCidrs: cfg.clusterCidrs, masquerade: cfg.masquerade };
  if (usesVxlan(cfg.backend) && desired.selfVtep) {
    spec.vxlanGuard = { port: cfg.vxlanPort, peers: desired.vxlan.map((v) => v.nodeIp) };
  }
  return spec;
}

/**
 * Apply: the plugin binaries, when the plugin is missing. With
 * `installPlugin: false` the directory is someone else's to write (the
 * install init container's): a missing plugin only makes the node not ready.
 */
export async function applyPlugin(d: StepDeps, pass: PassTally): Promise<void> {
  const cfg = d.config;
  if (cfg.installPlugin === false) {
    const present = await pass.step("check the plugin", () => pluginPresent(d.fs, cfg.cniBinDir));
    if (present === false) {
      pass.notReady.push(
        `the plugin is missing in ${cfg.cniBinDir} (the install container writes it)`,
      );
    }
    return;
  }
  pass.wrote(
    await pass.step("install the plugin", async () => {
      if (await pluginPresent(d.fs, cfg.cniBinDir)) return 0;
      const n = await installPlugins(d.fs, cfg);
      d.metrics.inc(M.pluginInstalls, {}, n);
      if (n > 0) d.log.info("plugin installed", { dir: cfg.cniBinDir, files: n });
      return n;
    }),
  );
}

/** Apply: the conflist, once this node has a (trusted) pod subnet. Returns true when it wrote. */
export async function applyConflist(
  d: StepDeps,
  pass: PassTally,
  o: { desired: DesiredState; mtu: number },
): Promise<boolean> {
  const cfg = d.config;
  if (o.desired.selfPodCidrs.length === 0) {
    pass.notReady.push("this node has no pod subnet yet");
    return false;
  }
  const wrote = await pass.step("write the conflist", () =>
    ensureConflist(d.fs, {
      path: conflistPath(cfg),
      content: conflistFor(cfg, { podCidrs: o.desired.selfPodCidrs, mtu: o.mtu }),
    })) ?? false;
  if (wrote) {
    pass.wrote(1);
    d.metrics.inc(M.conflistWrites);
    d.log.info("conflist written", {
      path: conflistPath(cfg),
      subnets: o.desired.selfPodCidrs.join(","),
    });
  }
  return wrote;
}

/**
 * Apply: credential files (the agent's kubeconfig, the plugin's) back to
 * 0600 when someone opened them up. A file it cannot fix (read-only mount)
 * is a WARN, not a failed pass: routing does not depend on it.
 */
export async function applySecretModes(d: StepDeps, pass: PassTally): Promise<void> {
  const paths = [d.config.kubeconfig, d.config.ippoolKubeconfig ?? ""].filter((p) => p !== "");
  if (paths.length === 0) return;
  try {
    const fixed = await ensureSecretModes(d.fs, paths);
    for (const p of fixed) {
      d.log.warn("credential file was readable by others; now 0600", { path: p });
    }
    pass.wrote(fixed.length);
  } catch (e) {
    d.log.warn("Cannot make a credential file 0600", { error: (e as Error).message });
  }
}

/** The pod MTU of this pass. */
export function mtuOf(cfg: ReconcileConfig, uplink: Uplink | undefined): number {
  return podMtu({ mtu: cfg.mtu, backend: cfg.backend, uplinkMtu: uplink?.link?.mtu });
}

/** Step 5, report: datastore and pass metrics. */
export function reportStep(
  d: StepDeps,
  pass: PassTally,
  o: { health: DatastoreHealth; seconds: number },
): void {
  const { metrics } = d;
  metrics.set(M.datastoreConnected, o.health.connected ? 1 : 0);
  metrics.set(M.datastoreAuthoritative, o.health.authoritative === false ? 0 : 1);
  const seen = metrics.value(M.datastoreEvents);
  if (o.health.events > seen) metrics.inc(M.datastoreEvents, {}, o.health.events - seen);
  metrics.observe(M.reconcileDuration, o.seconds);
  metrics.inc(M.reconciles);
  if (pass.errors.length > 0) metrics.inc(M.reconcileErrors);
  metrics.set(M.ready, pass.notReady.length === 0 ? 1 : 0);
}
