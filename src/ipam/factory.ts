/**
 * One entry point for the plugin: it hands over the whole network config and
 * gets an `Ipam`, never knowing which backend serves it.
 * @module
 */
import { requestedIpsOf } from "../cni/mod.ts";
import { invalidConfig } from "../errors.ts";
import type { Clock } from "../system/clock.ts";
import type { Exec } from "../system/exec.ts";
import type { FileSystem } from "../system/fs.ts";
import { parseIpamConfig } from "./config.ts";
import { type CniEnvLike, DelegatedIpam } from "./delegated.ts";
import { DiskStore } from "./disk_store.ts";
import { createIppoolIpam, type HttpTransport } from "./ippool/mod.ts";
import { LocalIpam } from "./local.ts";
import type { Ipam } from "./types.ts";

/** Options of `createIpam`. */
export interface CreateIpamOptions {
  /** The whole network config object (with `ipam`, `runtimeConfig`, `args`). */
  config: unknown;
  /** Network name: the store subdirectory of hostgate-local. */
  netName: string;
  env: CniEnvLike;
  fs: FileSystem;
  exec: Exec;
  /** The CNI version in effect (sent to a delegate, decides which verbs it has). */
  cniVersion: string;
  /** hostgate-local: ages sticky reservations; default the real wall clock. */
  clock?: Pick<Clock, "now">;
  /** hostgate-ippool: how requests reach the API server; default `fetch`. */
  http?: HttpTransport;
  /** hostgate-ippool: the node name when the config has none; default `Deno.hostname()`. */
  hostname?: () => string;
}

/**
 * Builds the backend named by `ipam.type`: `hostgate-local` (built in, no
 * process), `hostgate-ippool` (the cluster-wide IPPool backend; its kubeconfig
 * is read on first use, not here), or any other name as a plugin from CNI_PATH. Throws CniError code 7 naming the key on a bad config
 * (parsing is the only work done here; nothing touches the disk).
 *
 * For hostgate-local, `add` without `requestedIps` uses the addresses asked
 * for in CNI_ARGS `IP=`, `args.cni.ips` and `runtimeConfig.ips`.
 */
export function createIpam(opts: CreateIpamOptions): Ipam {
  const netconf = opts.config;
  if (typeof netconf !== "object" || netconf === null || Array.isArray(netconf)) {
    throw invalidConfig("config", "must be an object");
  }
  const config = netconf as Record<string, unknown>;
  const ipam = parseIpamConfig(config.ipam);
  switch (ipam.kind) {
    case "local":
      return new LocalIpam({
        config: ipam,
        store: new DiskStore({
          fs: opts.fs,
          dataDir: ipam.dataDir,
          network: opts.netName,
          clock: opts.clock ?? { now: () => Date.now() },
          stickyTtl: ipam.stickyTtl,
        }),
        defaultRequestedIps: requestedIpsOf(config, opts.env.args),
      });
    case "ippool":
      return createIppoolIpam({
        ipam: ipam.raw,
        fs: opts.fs,
        transport: opts.http,
        hostname: opts.hostname,
      });
    case "delegated":
      return new DelegatedIpam({
        plugin: ipam.type,
        config,
        cniVersion: opts.cniVersion,
        env: opts.env,
        fs: opts.fs,
        exec: opts.exec,
      });
  }
}
