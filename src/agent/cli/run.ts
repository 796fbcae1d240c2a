/**
 * `hostgate-agent run`: wires the datastore, the kernel, the rules and the
 * files to the reconciler, and drives it from three triggers (datastore
 * events, the route monitor, a timer). Stops cleanly on the signal, leaving
 * routes and rules in place so a restart (or a crash) never cuts traffic.
 * @module
 */
import type { Libc } from "../../system/netlink/libc.ts";
import type { Datastore } from "../../datastore/mod.ts";
import type { Clock } from "../../system/clock.ts";
import type { FileSystem } from "../../system/fs.ts";
import {
  type LinkEvent,
  type Netlink,
  type RouteEvent,
  RT_TABLE_MAIN,
} from "../../system/netlink/types.ts";
import type { AgentConfig } from "./agent_config.ts";
import type { FirewallDriver } from "../firewall/mod.ts";
import { type HealthServer, type Logger, M, type Metrics, serveHealth } from "../observe/mod.ts";
import { conflistPath, installPlugins, keepPluginKubeconfig } from "../install/mod.ts";
import {
  backoffMs,
  linkEventWantsPass,
  type OpenWatch,
  Reconciler,
  runLoop,
  Waker,
  watchOwnedFiles,
} from "../reconcile/mod.ts";
import type { NftJson } from "../../system/nft_json.ts";
import type { Nft } from "../../system/nft.ts";
import { renderGuardDefinition } from "../../plugin/guard/render.ts";
import { runPolicyEnforcer } from "../policy/enforcer.ts";

/**
 * The loop counts as stalled (liveness fails) after this many resync
 * intervals or longest retry delays without a pass, whichever is longer...
 */
const STALL_FACTOR = 3;
/** ...and never sooner than this. */
const MIN_STALL_MS = 60_000;
/** The plugin's kubeconfig (its service account token) is refreshed at least this often. */
const MAX_KUBECONFIG_REFRESH_MS = 30_000;

/** Everything `runAgent` needs; main.ts passes the real ones, tests the fakes. */
export interface RunDeps {
  config: AgentConfig;
  netlink: Netlink;
  datastore: Datastore;
  firewall: FirewallDriver;
  fs: FileSystem;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  signal: AbortSignal;
  /** Whether the agent may enter pods' netns (CAP_SYS_ADMIN), for `--plugin-socket`. */
  canEnterPods?: () => boolean;
  /** The process's libc, shared with the plugin calls `--plugin-socket` runs. */
  libc?: Libc;
  /** Called once the health server listens (tests learn the port). */
  onHealthListening?: (addr: string) => void;
  /** Called after each pass (tests wait on it). */
  onPass?: (r: Reconciler) => void;
  /** nft for the NetworkPolicy table; policy is not enforced without it. */
  nft?: NftJson;
  /**
   * nft for the plugin's anti-spoofing tables, defined once at start so the
   * node's first pod does not pay for it (the plugin defines them itself
   * when they are missing); none when absent (unit tests).
   */
  guardNft?: Nft;
  /** Directory watches for the conflist and plugin; none when absent (unit tests). */
  openWatch?: OpenWatch;
  /**
   * Watches the agent's firewall rules (firewall_watch.ts), calling `fire`
   * when they may have changed; none when absent (unit tests).
   */
  watchFirewall?: (o: { signal: AbortSignal; fire: () => void }) => Promise<void>;
}

/** Wait between attempts to open the health listener when its port is taken. */
export const HEALTH_RETRY_MS = 5_000;

/** Runs the daemon until `signal` aborts. */
export async function runAgent(d: RunDeps): Promise<void> {
  const { config: cfg, log, metrics } = d;
  const handle = d.netlink.open();
  const waker = new Waker();
  const inner = new AbortController();
  const stop = () => inner.abort();
  d.signal.addEventListener("abort", stop, { once: true });
  const reconciler = new Reconciler({
    config: cfg,
    handle,
    datastore: d.datastore,
    firewall: d.firewall,
    fs: d.fs,
    metrics,
    log,
    clock: d.clock,
    onDatastoreChange: () => waker.fire(),
  });
  let lastProgress = d.clock.monotonic();
  let health: HealthServer | undefined;
  const tasks: Promise<unknown>[] = [];
  try {
    log.info("agent starting", {
      node: cfg.nodeName,
      datastore: d.datastore.kind,
      clusterCidr: cfg.clusterCidrs.join(","),
      firewall: d.firewall.name,
    });
    if (cfg.installPlugin) {
      try {
        const n = await installPlugins(d.fs, cfg);
        if (n > 0) log.info("plugin installed", { dir: cfg.cniBinDir, files: n });
        metrics.inc(M.pluginInstalls, {}, n);
      } catch (e) {
        log.error("Cannot install the plugin", { error: (e as Error).message });
      }
    }
    if (d.guardNft) {
      try {
        await d.guardNft.apply(renderGuardDefinition(cfg.podMode));
        log.info("anti-spoofing tables defined", { mode: cfg.podMode });
      } catch (e) {
        log.warn("Cannot define the anti-spoofing tables; the first pod will", {
          error: (e as Error).message,
        });
      }
    }
    if (cfg.healthAddr !== "") {
      const staleAfter = Math.max(
        STALL_FACTOR * cfg.resyncIntervalMs,
        STALL_FACTOR * cfg.retryMaxMs,
        MIN_STALL_MS,
      );
      const source = {
        live: () => d.clock.monotonic() - lastProgress < staleAfter,
        ready: () => reconciler.readiness(),
        metrics: () => metrics.render(),
      };
      // A taken port is an error in the log, never a reason to stop routing: retried.
      tasks.push((async () => {
        let logged = false;
        while (!inner.signal.aborted) {
          try {
            health = await serveHealth({ addr: cfg.healthAddr, signal: inner.signal, source });
            log.info("health server listening", { addr: health.addr });
            d.onHealthListening?.(health.addr);
            return;
          } catch (e) {
            metrics.inc(M.healthListenErrors);
            if (!logged) {
              log.error("Cannot open the health listener; routing goes on, retrying", {
                addr: cfg.healthAddr,
                error: (e as Error).message,
                everyMs: HEALTH_RETRY_MS,
              });
              logged = true;
            }
            await d.clock.sleep(HEALTH_RETRY_MS, inner.signal);
          }
        }
      })());
    }
    if (cfg.pluginSocket !== "") {
      const path = cfg.pluginSocket;
      tasks.push(
        import("./plugin_socket.ts").then((m) =>
          m.runPluginSocket({
            path,
            signal: inner.signal,
            log,
            metrics,
            clock: d.clock,
            canEnterPods: d.canEnterPods ?? (() => false),
            ...(d.libc ? { libc: d.libc } : {}),
          })
        ),
      );
    }
    if (d.openWatch) {
      const fire = () => waker.fire();
      const conf = conflistPath(cfg);
      for (
        const [dir, names] of [
          [conf.slice(0, conf.lastIndexOf("/")), [conf.slice(conf.lastIndexOf("/") + 1)]],
          [cfg.cniBinDir.replace(/\/+$/, ""), ["hostgate"]],
        ] as const
      ) {
        tasks.push(watchOwnedFiles({
          open: d.openWatch,
          dir,
          names,
          fire,
          signal: inner.signal,
          clock: d.clock,
          log,
        }));
      }
    }
    if (d.watchFirewall) {
      const fire = () => {
        reconciler.rulesChanged();
        waker.fire();
      };
      tasks.push(d.watchFirewall({ signal: inner.signal, fire }));
    }
    tasks.push(monitor(d, inner.signal, {
      fire: () => waker.fire(),
      echo: (ev) => reconciler.isEcho(ev),
      wants: (ev) => linkEventWantsPass(ev, reconciler.vxlanIndex),
    }));
    const policy = d.datastore.policy;
    if (cfg.networkPolicy && policy && d.nft) {
      tasks.push(runPolicyEnforcer({
        source: policy,
        nft: d.nft,
        nodeName: cfg.nodeName,
        clock: d.clock,
        log,
        metrics,
        signal: inner.signal,
        debounceMs: Math.min(cfg.debounceMs, 10),
        resyncIntervalMs: cfg.resyncIntervalMs,
        retryMinMs: cfg.retryMinMs,
        retryMaxMs: cfg.retryMaxMs,
      }));
    } else if (cfg.networkPolicy && !policy) {
      log.warn("NetworkPolicy is not enforced: the datastore offers no policy inputs", {
        datastore: d.datastore.kind,
      });
    }
    if (cfg.ippoolKubeconfig && cfg.kubernetesApi) {
      tasks.push(keepPluginKubeconfig({
        path: cfg.ippoolKubeconfig,
        server: cfg.kubernetesApi,
        fs: d.fs,
        clock: d.clock,
        log,
        intervalMs: Math.min(cfg.resyncIntervalMs, MAX_KUBECONFIG_REFRESH_MS),
        signal: inner.signal,
      }));
    }
    await runLoop({
      clock: d.clock,
      waker,
      signal: inner.signal,
      debounceMs: cfg.debounceMs,
      resyncIntervalMs: cfg.resyncIntervalMs,
      retryMinMs: cfg.retryMinMs,
      retryMaxMs: cfg.retryMaxMs,
      pass: async () => {
        const r = await reconciler.resync();
        lastProgress = d.clock.monotonic();
        d.onPass?.(reconciler);
        return r.errors.length === 0 && r.routes.conflicts.length === 0;
      },
      onPass: (ok, next) => {
        if (!ok) log.warn("resync incomplete; retrying", { inMs: next });
      },
    });
  } finally {
    inner.abort();
    d.signal.removeEventListener("abort", stop);
    await Promise.allSettled(tasks);
    if (health) await health.finished.catch(() => {});
    await d.datastore.close().catch((e) =>
      log.warn("Cannot close the datastore", { error: (e as Error).message })
    );
    handle.close();
    log.info("agent stopped");
  }
}

/**
 * Keeps a route monitor running; restarts it with backoff when it fails.
 * Events that are the echo of the agent's own writes (`echo`) ask for no pass.
 */
async function monitor(
  d: RunDeps,
  signal: AbortSignal,
  o: { fire: () => void; echo: (ev: RouteEvent) => boolean; wants: (ev: LinkEvent) => boolean },
): Promise<void> {
  const fire = o.fire;
  let failures = 0;
  while (!signal.aborted) {
    try {
      await d.netlink.monitorRoutes({
        signal,
        onEvent: (ev) => {
          if ((ev.route.table ?? RT_TABLE_MAIN) !== RT_TABLE_MAIN) return;
          d.metrics.inc(M.routeEvents, { kind: ev.kind });
          if (!o.echo(ev)) fire();
        },
        onOverflow: fire,
        onLinkEvent: (ev) => {
          if (o.wants(ev)) fire();
        },
      });
      failures = 0;
    } catch (e) {
      failures++;
      d.log.warn("route monitor failed; restarting", { error: (e as Error).message });
      fire();
    }
    if (!signal.aborted) {
      await d.clock.sleep(
        backoffMs(Math.max(failures, 1), d.config.retryMinMs, d.config.retryMaxMs),
        signal,
      );
    }
  }
}
