/**
 * One level-triggered pass (like kindnet): read the node list, this node's
 * addresses, hostgate's routes, rules and files; compute the desired state;
 * write only the difference. Every trigger (datastore event, route monitor,
 * timer) just asks for another pass, so a second pass over unchanged input
 * writes nothing. The pass keeps going past a failed step and reports all
 * errors, so a broken datastore never stops route repair for known nodes.
 * With the vxlan and auto backends the pass also keeps hostgate's vxlan
 * device, and the neighbour and FDB entries of tunnelled peers, in line
 * (vxlan_sync.ts), announcing this node's VTEP through the datastore.
 * @module
 */
import type { Datastore } from "../../datastore/mod.ts";
import type { FileSystem } from "../../system/fs.ts";
import type { Clock } from "../../system/clock.ts";
import {
  HOSTGATE_ROUTE_PROTOCOL,
  type NetlinkHandle,
  type RouteEvent,
} from "../../system/netlink/types.ts";
import { ensureBridge } from "../../system/netlink/bridge.ts";
import { familyOf } from "../../net/mod.ts";
import type { AgentConfig } from "../cli/mod.ts";
import {
  conflistFor,
  conflistPath,
  ensureConflist,
  installPlugins,
  pluginPresent,
} from "../install/mod.ts";
import {
  computeDesired,
  type DesiredState,
  type PeerPlan,
  podCidrsOf,
  SKIP_REASONS,
  type SkipReason,
} from "./desired_state.ts";
import type { FirewallDriver } from "../firewall/mod.ts";
import { detectUplink, readLocalAddrs } from "./local.ts";
import { type Logger, M, type Metrics } from "../observe/mod.ts";
import { ownRoutes, type RouteApplyResult, RouteExpectation, syncRoutes } from "../routes/mod.ts";
import { passCache } from "./pass_cache.ts";
import {
  planVxlanEntries,
  podMtu,
  sameVtep,
  syncVxlanDevice,
  usesVxlan,
  vtepOfDevice,
  type VxlanEntriesStep,
} from "../vxlan/mod.ts";
import { SelfRegistration } from "./registration.ts";

/** The config fields a pass uses. */
export type ReconcileConfig = Pick<
  AgentConfig,
  | "nodeName"
  | "nodeIps"
  | "iface"
  | "bridge"
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
>;

/** What the reconciler is given. */
export interface ReconcilerDeps {
  config: ReconcileConfig;
  handle: NetlinkHandle;
  datastore: Datastore;
  firewall: FirewallDriver;
  fs: FileSystem;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** Called on every datastore change; the run loop passes its trigger. */
  onDatastoreChange: () => void;
}

/** Outcome of one pass. */
export interface ResyncResult {
  /** Number of kernel/file writes this pass made (0 when everything was in line). */
  writes: number;
  routes: RouteApplyResult;
  firewallWrote: boolean;
  conflistWrote: boolean;
  errors: Error[];
  ready: boolean;
  /** Why not ready, when not. */
  notReady: string[];
  desired: DesiredState;
}

/** Runs passes; keeps registration and readiness state between them. */
export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #self: SelfRegistration;
  #skippedKey = "";
  #last: ResyncResult | undefined;
  readonly #expected = new RouteExpectation();
  /** When the rules were last found (or made) right; undefined until then. */
  #rulesOkAt: number | undefined;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
    this.#self = new SelfRegistration({
      nodeName: deps.config.nodeName,
      datastore: deps.datastore,
      log: deps.log,
      clock: deps.clock,
      onDatastoreChange: deps.onDatastoreChange,
    });
  }

  /**
   * True when a route monitor event is this agent's own write echoed back (or
   * otherwise needs no pass); see route_echo.ts.
   */
  isEcho(ev: RouteEvent): boolean {
    return this.#expected.isEcho(ev);
  }

  /** The result of the last pass, for /readyz and status. */
  get last(): ResyncResult | undefined {
    return this.#last;
  }

  /** One full pass. Never throws: errors are in the result. */
  async resync(): Promise<ResyncResult> {
    const { config: cfg, metrics, log } = this.#d;
    const handle = passCache(this.#d.handle);
    const t0 = this.#d.clock.monotonic();
    const errors: Error[] = [];
    const notReady: string[] = [];
    let writes = 0;
    const step = async <T>(what: string, fn: () => T | Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        errors.push(err);
        notReady.push(`${what}: ${err.message}`);
        log.warn(`Cannot ${what}`, { error: err.message });
        return undefined;
      }
    };

    const uplink = await step(
      "read the uplink",
      () => detectUplink(handle, { iface: cfg.iface, nodeIps: cfg.nodeIps, bridge: cfg.bridge }),
    );
    const nodeIps = uplink?.nodeIps ?? [];
    // A VTEP already announced (or on the device after a restart) is kept, never withdrawn.
    await step("register with the datastore", () =>
      this.#self.ensure(
        nodeIps,
        usesVxlan(cfg.backend)
          ? vtepOfDevice(handle, cfg.vxlanDevice) ?? this.#self.vtep
          : undefined,
      ));
    writes += await step("enable forwarding", () => this.#forwarding()) ?? 0;

    const health = this.#d.datastore.health();
    metrics.set(
      M.datastoreConnected,
      "1 when the datastore is reachable",
      health.connected ? 1 : 0,
    );
    metrics.set(M.datastoreEvents, "Datastore change events seen", health.events);
    if (!health.connected) {
      notReady.push(`datastore not connected: ${health.lastError ?? "unknown"}`);
    }

    let nodes = this.#self.nodes();
    const overlay = { config: cfg, handle, log, metrics };
    const device = await step("set up the vxlan device", () =>
      syncVxlanDevice(overlay, {
        uplink,
        selfPodCidrs: podCidrsOf(nodes.find((n) => n.name === cfg.nodeName)),
      }));
    writes += device?.writes ?? 0;
    if (device?.vtep && !sameVtep(device.vtep, this.#self.vtep)) {
      await step("register with the datastore", () => this.#self.ensure(nodeIps, device.vtep));
      nodes = this.#self.nodes();
    }
    const localAddrs = (await step("read addresses", () => readLocalAddrs(handle))) ?? [];
    const desired = computeDesired({
      selfName: cfg.nodeName,
      nodes,
      localAddrs,
      bridge: cfg.bridge,
      backend: cfg.backend,
      vxlanLinkIndex: device?.link?.index,
      podAddresses: this.#d.datastore.podAddresses?.() ?? [],
    });
    this.#reportSkipped(desired.peers);

    // Deleting needs a trustworthy list: connected, and this node in it.
    const allowDelete = health.connected && desired.self !== undefined;
    const link = device?.link;
    const entries: VxlanEntriesStep | undefined = link
      ? await step(
        "read vxlan entries",
        () => planVxlanEntries(overlay, { link, desired, allowDelete }),
      )
      : undefined;
    // Entries first: a new route never points at a VTEP without a neighbour and FDB entry.
    const vxSet = entries && await step("sync vxlan entries", () => throwFirst(entries.sets()));
    writes += (vxSet?.neighbors ?? 0) + (vxSet?.fdb ?? 0);
    const routes = (await step(
      "sync routes",
      () => {
        this.#expected.set(desired.routes);
        return throwFirst(syncRoutes(handle, { desired: desired.routes, allowDelete, log }));
      },
    )) ?? { added: 0, replaced: 0, removed: 0, conflicts: [], errors: [] };
    writes += routes.added + routes.replaced + routes.removed;
    metrics.inc(M.routeWrites, "Route writes", { op: "add" }, routes.added);
    metrics.inc(M.routeWrites, "Route writes", { op: "replace" }, routes.replaced);
    metrics.inc(M.routeWrites, "Route writes", { op: "delete" }, routes.removed);
    metrics.set(
      M.routeConflicts,
      "Desired routes blocked by a route of another owner",
      routes.conflicts.length,
    );
    metrics.set(M.routesDesired, "Routes hostgate wants", desired.routes.length);
    const installed = await step(
      "count routes",
      () =>
        ownRoutes([
          ...handle.listRoutes({ family: 4, protocol: HOSTGATE_ROUTE_PROTOCOL }),
          ...handle.listRoutes({ family: 6, protocol: HOSTGATE_ROUTE_PROTOCOL }),
        ]).length,
    );
    metrics.set(M.routesInstalled, "Routes with hostgate's protocol in the kernel", installed ?? 0);
    if (routes.conflicts.length > 0) notReady.push(`${routes.conflicts.length} route(s) blocked`);
    const vxDel = entries &&
      await step("remove stale vxlan entries", () => throwFirst(entries.removals()));
    writes += (vxDel?.neighbors ?? 0) + (vxDel?.fdb ?? 0);
    const mtu = podMtu({ mtu: cfg.mtu, backend: cfg.backend, uplinkMtu: uplink?.link?.mtu });

    if (cfg.manageBridge && desired.bridgeGateways.length > 0) {
      writes += await step("ensure the bridge", () =>
        ensureBridge(handle, {
          name: cfg.bridge,
          mtu,
          gateways: desired.bridgeGateways,
        }).writes) ?? 0;
    }

    const spec = { clusterCidrs: cfg.clusterCidrs, masquerade: cfg.masquerade };
    // Rules depend on the config only, and reading them spawns iptables-save: while they are
    // right, datastore and monitor triggers skip them; they are re-read once per resync interval.
    const now = this.#d.clock.monotonic();
    const rulesDue = this.#rulesOkAt === undefined || now - this.#rulesOkAt >= cfg.resyncIntervalMs;
    const firewallWrote = rulesDue &&
      (await step("sync rules", async () => {
        const wrote = await this.#d.firewall.sync(spec);
        this.#rulesOkAt = now;
        return wrote;
      }) ?? false);
    if (firewallWrote) {
      writes++;
      metrics.inc(M.firewallWrites, "Rule payloads applied");
      log.info("rules written", { backend: this.#d.firewall.name });
    }

    writes += await step("install the plugin", async () => {
      if (await pluginPresent(this.#d.fs, cfg.cniBinDir)) return 0;
      const n = await installPlugins(this.#d.fs, cfg);
      metrics.inc(M.pluginInstalls, "Plugin binaries written", {}, n);
      log.info("plugin installed", { dir: cfg.cniBinDir });
      return n;
    }) ?? 0;

    let conflistWrote = false;
    if (desired.selfPodCidrs.length === 0) {
      notReady.push("this node has no pod subnet yet");
    } else {
      conflistWrote = await step("write the conflist", () =>
        ensureConflist(this.#d.fs, {
          path: conflistPath(cfg),
          content: conflistFor(cfg, { podCidrs: desired.selfPodCidrs, mtu }),
        })) ?? false;
      if (conflistWrote) {
        writes++;
        metrics.inc(M.conflistWrites, "Conflist writes");
        log.info("conflist written", {
          path: conflistPath(cfg),
          subnets: desired.selfPodCidrs.join(","),
        });
      }
    }

    const seconds = (this.#d.clock.monotonic() - t0) / 1000;
    metrics.observe(M.reconcileDuration, "Duration of a reconcile pass", seconds);
    metrics.inc(M.reconciles, "Reconcile passes");
    if (errors.length > 0) metrics.inc(M.reconcileErrors, "Reconcile passes with an error");
    const ready = notReady.length === 0;
    metrics.set(M.ready, "1 when routes, rules and conflist are in place", ready ? 1 : 0);
    const result: ResyncResult = {
      writes,
      routes,
      firewallWrote,
      conflistWrote,
      errors,
      ready,
      notReady,
      desired,
    };
    this.#last = result;
    log.debug("resync done", { writes, ms: Math.round(seconds * 1000), errors: errors.length });
    return result;
  }

  #forwarding(): number {
    const keys: string[] = [];
    const families = new Set(this.#d.config.clusterCidrs.map(familyOf));
    if (families.has(4)) keys.push("net/ipv4/ip_forward");
    if (families.has(6)) keys.push("net/ipv6/conf/all/forwarding");
    let n = 0;
    for (const k of keys) {
      if (this.#d.handle.getSysctl(k).trim() === "1") continue;
      this.#d.handle.setSysctl(k, "1");
      n++;
    }
    return n;
  }

  #reportSkipped(peers: PeerPlan[]): void {
    const skipped = peers.filter((p) => p.mode === "skip");
    const key = skipped.map((p) => `${p.name}/${p.family}/${p.reason}/${p.nodeIp}`).join(";");
    const { metrics, log } = this.#d;
    for (const reason of SKIP_REASONS) {
      const n = skipped.filter((p) => p.reason === reason).length;
      metrics.set(M.peersSkipped, "Peers (per family) without a route, by reason", n, { reason });
    }
    if (key === this.#skippedKey) return;
    this.#skippedKey = key;
    for (const p of skipped) {
      const why = SKIP_WHY[p.reason!] ?? p.reason!;
      log.warn("peer skipped: no route", {
        peer: p.name,
        family: `ipv${p.family}`,
        nodeIp: p.nodeIp ?? "",
        subnet: p.podCidr ?? "",
        reason: p.reason!,
        why,
      });
    }
  }
}

/** Log text of the skip reasons that need one. */
const SKIP_WHY: Partial<Record<SkipReason, string>> = {
  "not-on-link":
    "its node IP is not inside any connected subnet of this node (host-gw needs one L2 segment; try --backend auto)",
  "no-vtep":
    "it announces no usable VTEP (it runs --backend host-gw, or has not set up its device)",
  "duplicate-vtep": "another node announces the same VTEP address or MAC",
  "vxlan-unavailable": "this node's vxlan device is not in place",
};

/** Throws the first error of an apply step (the step records it; the apply went on). */
function throwFirst<T extends { errors: Error[] }>(r: T): T {
  if (r.errors.length > 0) throw r.errors[0];
  return r;
}
