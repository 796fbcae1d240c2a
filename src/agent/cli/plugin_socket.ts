/**
 * `--plugin-socket`: the agent runs the node's plugin calls. The plugin's
 * thin client (src/plugin/remote/client.ts) relays each call here, where the
 * handlers are loaded and compiled once, instead of every pod paying for a
 * fresh process to load and compile them. Loaded by dynamic import only
 * when the flag is set, so an agent without it carries none of the plugin.
 * @module
 */
import { type Libc, openLibc } from "../../system/netlink/libc.ts";
import type { Clock } from "../../system/clock.ts";
import { type Logger, M, type Metrics } from "../observe/mod.ts";

/** Wait between attempts to open the socket. */
export const PLUGIN_SOCKET_RETRY_MS = 5_000;

/** Options of `runPluginSocket`. */
export interface PluginSocketOptions {
  path: string;
  signal: AbortSignal;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  /**
   * Whether this process may enter pods' network namespaces (CAP_SYS_ADMIN).
   * The deployed agent runs with NET_ADMIN and NET_RAW only unless the
   * operator opts in to the plugin socket (deploy/daemonset.yaml); without it
   * every call would fail, so the socket is not opened and the plugin keeps
   * running its calls.
   */
  canEnterPods: () => boolean;
  /** The agent's libc (one per process); opened here only when absent. */
  libc?: Libc;
}

/**
 * Serves plugin calls until `signal` aborts. A socket that cannot be opened
 * is an error in the log, never a reason to stop routing: the plugin runs
 * its calls itself meanwhile, and the agent retries.
 */
export async function runPluginSocket(opts: PluginSocketOptions): Promise<void> {
  if (!opts.canEnterPods()) {
    opts.log.error(
      "Cannot serve plugin calls: the agent lacks CAP_SYS_ADMIN to enter pods' network namespaces; the plugin runs its calls itself",
      { path: opts.path },
    );
    return;
  }
  const remote = await import("../../plugin/remote/mod.ts");
  let libc = opts.libc;
  const handle = remote.pluginExecutor({ libc: () => libc ??= openLibc() });
  let logged = false;
  while (!opts.signal.aborted) {
    try {
      const server = await remote.servePluginCalls({
        path: opts.path,
        handle,
        log: opts.log,
        signal: opts.signal,
        onCall: (command, outcome) => opts.metrics.inc(M.pluginCalls, { command, outcome }),
      });
      opts.log.info("plugin socket listening", { path: opts.path });
      await server.closed;
      return;
    } catch (e) {
      if (!logged) {
        opts.log.error(
          "Cannot open the plugin socket; the plugin runs its calls itself, retrying",
          {
            path: opts.path,
            error: (e as Error).message,
            everyMs: PLUGIN_SOCKET_RETRY_MS,
          },
        );
        logged = true;
      }
      await opts.clock.sleep(PLUGIN_SOCKET_RETRY_MS, opts.signal).catch(() => {});
    }
  }
}
