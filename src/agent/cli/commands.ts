/**
 * The one-shot subcommands: install (init container), uninstall and status.
 * Each takes its dependencies as an object, so tests run them against fakes.
 * @module
 */
import type { Datastore } from "../../datastore/mod.ts";
import type { Clock } from "../../system/clock.ts";
import type { FileSystem } from "../../system/fs.ts";
import { HOSTGATE_ROUTE_PROTOCOL, type Netlink } from "../../system/netlink/types.ts";
import type { AgentConfig, FirewallBackendName } from "./agent_config.ts";
import { desiredStep, firewallSpecOf, type Observed, trustStep } from "../reconcile/mod.ts";
import {
  conflistFor,
  conflistPath,
  ensureConflist,
  ensurePluginKubeconfig,
  installPlugins,
  removeConflist,
} from "../install/mod.ts";
import { computeDesired, detectUplink, readLocalAddrs } from "../reconcile/mod.ts";
import type { FirewallDriver } from "../firewall/mod.ts";
import {
  buildStatus,
  countIpsInUse,
  type Logger,
  readPodFeatures,
  renderStatus,
  type StatusReport,
} from "../observe/mod.ts";
import { ownRoutes, removeAllRoutes } from "../routes/mod.ts";
import type { NftJson } from "../../system/nft_json.ts";
import { removePolicyTable } from "../policy/sync.ts";
import {
  podMtu,
  readVxlanEntries,
  removeVxlanDevices,
  usesVxlan,
  vtepOfDevice,
} from "../vxlan/mod.ts";

/** What the one-shot commands need. */
export interface CommandDeps {
  config: AgentConfig;
  netlink: Netlink;
  fs: FileSystem;
  clock: Clock;
  log: Logger;
  /** Builds the configured datastore (not yet started). */
  openDatastore: () => Promise<Datastore>;
  /** Builds the firewall driver of a backend name. */
  firewall: (backend: FirewallBackendName) => Promise<FirewallDriver>;
  /** Command output (stdout). */
  print: (text: string) => void;
  /** nft for the NetworkPolicy table (uninstall removes it). */
  nft?: NftJson;
}

/** First delay of a one-shot command retrying the datastore; it doubles up to the max. */
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5_000;
/** How often `status` looks whether the datastore has connected. */
const CONNECT_POLL_MS = 100;

async function retrying<T>(
  d: CommandDeps,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = d.clock.monotonic() + d.config.timeoutMs;
  let delay = RETRY_FIRST_MS;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (d.clock.monotonic() + delay > deadline) {
        throw new Error(`Cannot ${what}: ${(e as Error).message}`, { cause: e });
      }
      d.log.warn(`Cannot ${what}; retrying`, { error: (e as Error).message, inMs: delay });
      await d.clock.sleep(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }
}

/**
 * install: copies the plugin (and extras) into the CNI bin dir and, unless
 * --binary-only, registers this node and writes the conflist once.
 */
export async function installCommand(d: CommandDeps): Promise<number> {
  const cfg = d.config;
  const n = await installPlugins(d.fs, cfg);
  d.log.info(n > 0 ? "plugin installed" : "plugin already current", { dir: cfg.cniBinDir });
  if (cfg.ippoolKubeconfig && cfg.kubernetesApi) {
    const path = cfg.ippoolKubeconfig;
    const wrote = await ensurePluginKubeconfig(d.fs, { path, server: cfg.kubernetesApi });
    d.log.info(wrote ? "plugin kubeconfig written" : "plugin kubeconfig already current", { path });
  }
  if (cfg.binaryOnly) return 0;
  const handle = d.netlink.open();
  const ds = await d.openDatastore();
  try {
    const uplink = detectUplink(handle, {
      iface: cfg.iface,
      nodeIps: cfg.nodeIps,
      bridge: cfg.bridge,
    });
    if (uplink.nodeIps.length === 0) {
      throw new Error("Cannot register: no node IP found (set --node-ip or --iface)");
    }
    // Keep the VTEP a running agent announced: an init container must not withdraw it.
    const vtep = usesVxlan(cfg.backend) ? vtepOfDevice(handle, cfg.vxlanDevice) : undefined;
    const self = await retrying(
      d,
      "register with the datastore",
      () =>
        ds.register({ name: cfg.nodeName, addresses: uplink.nodeIps, ...(vtep ? { vtep } : {}) }),
    );
    const desired = computeDesired({
      selfName: cfg.nodeName,
      nodes: [self],
      localAddrs: [],
      bridge: cfg.bridge,
    });
    if (desired.selfPodCidrs.length === 0) {
      throw new Error(`Cannot write the conflist: node ${cfg.nodeName} has no pod subnet`);
    }
    const content = conflistFor(cfg, {
      podCidrs: desired.selfPodCidrs,
      mtu: podMtu({ mtu: cfg.mtu, backend: cfg.backend, uplinkMtu: uplink.link?.mtu }),
    });
    const wrote = await ensureConflist(d.fs, { path: conflistPath(cfg), content });
    d.log.info(wrote ? "conflist written" : "conflist already current", {
      path: conflistPath(cfg),
      subnets: desired.selfPodCidrs.join(","),
    });
    return 0;
  } finally {
    await ds.close().catch(() => {});
    handle.close();
  }
}

const ALL_BACKENDS: FirewallBackendName[] = ["iptables-legacy", "iptables-nft", "nftables"];

/**
 * uninstall: removes hostgate's routes, its vxlan device (with the neighbour
 * and FDB entries on it), chains/table with their jumps, and the conflist.
 */
export async function uninstallCommand(d: CommandDeps): Promise<number> {
  const cfg = d.config;
  const handle = d.netlink.open();
  let failed = false;
  try {
    const routes = removeAllRoutes(handle);
    d.log.info("routes removed", { count: routes, protocol: HOSTGATE_ROUTE_PROTOCOL });
  } catch (e) {
    failed = true;
    d.log.error("Cannot remove routes", { error: (e as Error).message });
  }
  try {
    const n = removeVxlanDevices(handle, cfg.vxlanDevice);
    if (n > 0) d.log.info("vxlan device removed", { count: n });
  } catch (e) {
    failed = true;
    d.log.error("Cannot remove the vxlan device", { error: (e as Error).message });
  } finally {
    handle.close();
  }
  // With auto, clean every backend: rules may have been written by an older setting.
  const backends = cfg.firewallBackend === "auto" ? ALL_BACKENDS : [cfg.firewallBackend];
  for (const b of backends) {
    try {
      const removed = await (await d.firewall(b)).remove();
      if (removed) d.log.info("rules removed", { backend: b });
    } catch (e) {
      if (cfg.firewallBackend !== "auto") failed = true;
      d.log.warn("Cannot remove rules", { backend: b, error: (e as Error).message });
    }
  }
  if (d.nft) {
    try {
      if (await removePolicyTable(d.nft)) {
        d.log.info("policy table removed", { table: "inet hostgate-policy" });
      }
    } catch (e) {
      failed = true;
      d.log.error("Cannot remove the policy table", { error: (e as Error).message });
    }
  }
  if (await removeConflist(d.fs, conflistPath(cfg))) {
    d.log.info("conflist removed", { path: conflistPath(cfg) });
  }
  return failed ? 1 : 0;
}

/** status: prints the report; exit 0 when every route, the rules and the conflist are in place. */
export async function statusCommand(d: CommandDeps): Promise<number> {
  const report = await collectStatus(d);
  d.print(d.config.json ? JSON.stringify(report, null, 2) + "\n" : renderStatus(report));
  const ok = report.rules.inPlace && report.conflist.state === "current" &&
    report.peers.every((p) => p.route === "present" || p.route === "skipped") &&
    report.staleRoutes.length === 0;
  return ok ? 0 : 1;
}

/** Reads everything the status report needs. */
export async function collectStatus(d: CommandDeps): Promise<StatusReport> {
  const cfg = d.config;
  const handle = d.netlink.open();
  const ds = await d.openDatastore();
  try {
    await retrying(d, "watch the datastore", () => ds.start(() => {}));
    const deadline = d.clock.monotonic() + d.config.timeoutMs;
    while (!ds.health().connected && d.clock.monotonic() < deadline) {
      await d.clock.sleep(CONNECT_POLL_MS);
    }
    const health = ds.health();
    const uplink = detectUplink(handle, {
      iface: cfg.iface,
      nodeIps: cfg.nodeIps,
      bridge: cfg.bridge,
    });
    const vxlan = handle.getLink(cfg.vxlanDevice);
    const vxlanIndex = usesVxlan(cfg.backend) && vxlan?.kind === "vxlan" ? vxlan.index : undefined;
    const routes = ownRoutes([
      ...handle.listRoutes({ family: 4, protocol: HOSTGATE_ROUTE_PROTOCOL }),
      ...handle.listRoutes({ family: 6, protocol: HOSTGATE_ROUTE_PROTOCOL }),
    ]);
    const observed: Observed = {
      uplink,
      routes,
      nodeIps: uplink.nodeIps,
      health,
      nodes: ds.nodes(),
      localAddrs: readLocalAddrs(handle),
      podAddresses: ds.podAddresses?.() ?? [],
      entryRejects: ds.entryRejects?.() ?? [],
    };
    // The same gate as the agent's pass: status shows what the agent routes and what it refused
    // (equal claims settled as at an agent start: the kernel's routes name the incumbents).
    const trusted = trustStep(cfg, observed);
    const desired = desiredStep(cfg, { observed, trusted, vxlanLinkIndex: vxlanIndex });
    const fw = await d.firewall(cfg.firewallBackend);
    const spec = firewallSpecOf(cfg, desired);
    const path = conflistPath(cfg);
    const file = await d.fs.readText(path);
    let state: StatusReport["conflist"]["state"] = "not-yet";
    if (desired.selfPodCidrs.length > 0) {
      const want = conflistFor(cfg, {
        podCidrs: desired.selfPodCidrs,
        mtu: podMtu({ mtu: cfg.mtu, backend: cfg.backend, uplinkMtu: uplink.link?.mtu }),
      });
      state = file === undefined ? "missing" : file === want ? "current" : "outdated";
    }
    const ipamDir = `${cfg.ipamDir.replace(/\/+$/, "")}/${cfg.networkName}`;
    return buildStatus({
      node: cfg.nodeName,
      datastore: { kind: ds.kind, connected: health.connected, lastError: health.lastError },
      desired,
      nodeIps: uplink.nodeIps,
      ownRoutes: routes,
      vxlanEntries: vxlanIndex === undefined ? undefined : readVxlanEntries(handle, vxlanIndex),
      rules: { backend: fw.name, inPlace: await fw.inSync(spec) },
      conflist: { path, state },
      ipam: { dir: ipamDir, inUse: await countIpsInUse(d.fs, ipamDir) },
      rejects: trusted.rejects,
      pods: await readPodFeatures(d.fs, cfg),
    });
  } finally {
    await ds.close().catch(() => {});
    handle.close();
  }
}
