/**
 * One level-triggered pass (like kindnet): read the node list, this node's
 * addresses, hostgate's routes, rules and files; compute the desired state;
 * write only the difference. Every trigger (datastore event, route monitor,
 * timer) just asks for another pass, so a second pass over unchanged input
 * writes nothing. The pass keeps going past a failed step and reports all
 * errors, so a broken datastore never stops route repair for known nodes.
 * @module
 */
import type { Datastore, NodeInfo } from "../datastore/types.ts";
import type { FileSystem } from "../system/fs.ts";
import type { Clock } from "../system/clock.ts";
import {
  HOSTGATE_ROUTE_PROTOCOL,
  type NetlinkHandle,
  type Route,
} from "../system/netlink/types.ts";
import { familyOf } from "./cidr.ts";
import type { AgentConfig } from "./config.ts";
import { renderConflist } from "./conflist.ts";
import { computeDesired, type DesiredState, type PeerPlan, SKIP_REASONS } from "./desired_state.ts";
import type { FirewallDriver } from "./firewall_sync.ts";
import { conflistPath, ensureConflist, installPlugins, pluginPresent } from "./install.ts";
import { detectUplink, readLocalAddrs } from "./local.ts";
import type { Logger } from "./log.ts";
import { M, type Metrics } from "./metrics.ts";
import { applyRoutePlan, ownRoutes, planRoutes, type RouteApplyResult } from "./routes.ts";
import { ensureBridge } from "./bridge.ts";
import type { Exec } from "../system/exec.ts";
import { type SysctlAccess, sysctlAccess } from "./sysctl.ts";

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
  | "manageBridge"
  | "networkName"
  | "ipamDir"
  | "cniBinDir"
  | "cniConfDir"
  | "conflistName"
  | "pluginSrc"
  | "extraPlugins"
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
  /** Runs `sysctl` when Deno refuses /proc/sys (see sysctl.ts). */
  exec?: Exec;
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
  #registered: NodeInfo | undefined;
  #registeredIps = "";
  #started = false;
  #skippedKey = "";
  #last: ResyncResult | undefined;
  readonly #sysctl: SysctlAccess;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
    this.#sysctl = sysctlAccess(deps.handle);
  }

  /** The result of the last pass, for /readyz and status. */
  get last(): ResyncResult | undefined {
    return this.#last;
  }

  /** One full pass. Never throws: errors are in the result. */
  async resync(): Promise<ResyncResult> {
    const { config: cfg, handle, metrics, log } = this.#d;
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
    await step("register with the datastore", () => this.#register(uplink?.nodeIps ?? []));
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

    const nodes = [...this.#d.datastore.nodes()];
    if (this.#registered && !nodes.some((n) => n.name === cfg.nodeName)) {
      nodes.push(this.#registered);
    }
    const localAddrs = (await step("read addresses", () => readLocalAddrs(handle))) ?? [];
    const desired = computeDesired({
      selfName: cfg.nodeName,
      nodes,
      localAddrs,
      bridge: cfg.bridge,
    });
    this.#reportSkipped(desired.peers);

    // Deleting needs a trustworthy list: connected, and this node in it.
    const allowDelete = health.connected && desired.self !== undefined;
    const routes = (await step("sync routes", () => {
      const actual: Route[] = [];
      for (const family of [4, 6] as const) {
        actual.push(...ownRoutes(handle.listRoutes({ family, protocol: HOSTGATE_ROUTE_PROTOCOL })));
      }
      const plan = planRoutes(desired.routes, actual, { allowDelete });
      const res = applyRoutePlan(handle, plan);
      for (const d of plan.add) {
        log.info("route added", { peer: d.peer, dst: d.dst, via: d.gateway });
      }
      for (const r of plan.replace) {
        log.info("route replaced", {
          peer: r.want.peer,
          dst: r.want.dst,
          via: r.want.gateway,
          was: r.have.gateway ?? "",
        });
      }
      for (const r of plan.remove) log.info("route removed", { dst: r.dst, via: r.gateway ?? "" });
      for (const dst of res.conflicts) {
        log.warn("route not added: a route of another owner has this destination", { dst });
      }
      if (res.errors.length > 0) throw res.errors[0];
      return res;
    })) ?? { added: 0, replaced: 0, removed: 0, conflicts: [], errors: [] };
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

    if (cfg.manageBridge && desired.bridgeGateways.length > 0) {
      writes += await step("ensure the bridge", () =>
        ensureBridge(handle, this.#sysctl, {
          name: cfg.bridge,
          mtu: uplink?.link?.mtu,
          gateways: desired.bridgeGateways,
        })) ?? 0;
    }

    const spec = { clusterCidrs: cfg.clusterCidrs, masquerade: cfg.masquerade };
    const firewallWrote = await step("sync rules", () => this.#d.firewall.sync(spec)) ?? false;
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
      const mtu = cfg.mtu || uplink?.link?.mtu || 1500;
      conflistWrote = await step("write the conflist", () =>
        ensureConflist(this.#d.fs, {
          path: conflistPath(cfg),
          content: renderConflist({
            name: cfg.networkName,
            bridge: cfg.bridge,
            mtu,
            podCidrs: desired.selfPodCidrs,
            ipamDir: cfg.ipamDir,
          }),
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

  async #register(nodeIps: string[]): Promise<void> {
    const key = nodeIps.join(",");
    if (!this.#registered || key !== this.#registeredIps) {
      if (nodeIps.length === 0) throw new Error("no node IP found (set --node-ip or --iface)");
      this.#registered = await this.#d.datastore.register({
        name: this.#d.config.nodeName,
        addresses: nodeIps,
      });
      this.#registeredIps = key;
      this.#d.log.info("registered", {
        node: this.#d.config.nodeName,
        addresses: key,
        subnets: this.#registered.podCidrs.join(","),
      });
    }
    if (!this.#started) {
      await this.#d.datastore.start(this.#d.onDatastoreChange);
      this.#started = true;
      this.#d.log.info("watching the datastore", { kind: this.#d.datastore.kind });
    }
  }

  async #forwarding(): Promise<number> {
    const keys: string[] = [];
    const families = new Set(this.#d.config.clusterCidrs.map(familyOf));
    if (families.has(4)) keys.push("net/ipv4/ip_forward");
    if (families.has(6)) keys.push("net/ipv6/conf/all/forwarding");
    let n = 0;
    for (const k of keys) {
      if ((await this.#sysctl.get(k)) === "1") continue;
      await this.#sysctl.set(k, "1");
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
      const why = p.reason === "not-on-link"
        ? "its node IP is not inside any connected subnet of this node (host-gw needs one L2 segment)"
        : p.reason!;
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
