/**
 * The `ipam` section of `hostgate-ippool` (pure):
 *
 *   "ipam": { "type": "hostgate-ippool", "pool": "default",
 *             "kubeconfig": "/etc/cni/net.d/hostgate-kubeconfig",
 *             "nodeName": "node-a", "timeoutMs": 5000, "routes": [...], "dns": {...} }
 *
 * Only `pool` is required. Every invalid value is CNI code 7 naming the key.
 * @module
 */
import { invalidConfig } from "../../errors.ts";
import { parseDns, parseRoutes } from "../config.ts";
import type { IpamDns, IpamRoute } from "../types.ts";
import { DEFAULT_PLUGIN_KUBECONFIG } from "./kubeconfig.ts";

/** Default per-request timeout: long enough for a loaded API server, short next to kubelet's. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Longest per-request timeout accepted: ten minutes, past any runtime's own CNI timeout. */
const MAX_TIMEOUT_MS = 600_000;

/** Parsed config of `hostgate-ippool`. */
export interface IppoolConfig {
  /** IPPool name; also a label value, hence at most 63 characters. */
  pool: string;
  kubeconfig: string;
  /** This node's name; default the host name (kubelet's default node name). */
  nodeName?: string;
  timeoutMs: number;
  routes: IpamRoute[];
  dns?: IpamDns;
}

const POOL_NAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Parses the section (the raw `ipam` object). */
export function parseIppoolConfig(ipam: Record<string, unknown>): IppoolConfig {
  const pool = ipam.pool;
  if (typeof pool !== "string" || !POOL_NAME.test(pool)) {
    throw invalidConfig(
      "ipam.pool",
      `must name an IPPool (a DNS label of at most 63 characters), got ${JSON.stringify(pool)}`,
    );
  }
  const kubeconfig = ipam.kubeconfig ?? DEFAULT_PLUGIN_KUBECONFIG;
  if (typeof kubeconfig !== "string" || !kubeconfig.startsWith("/")) {
    throw invalidConfig("ipam.kubeconfig", "must be an absolute path");
  }
  const out: IppoolConfig = {
    pool,
    kubeconfig,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    routes: parseRoutes(ipam.routes),
  };
  if (ipam.nodeName !== undefined && ipam.nodeName !== null && ipam.nodeName !== "") {
    if (typeof ipam.nodeName !== "string" || !NODE_NAME.test(ipam.nodeName)) {
      throw invalidConfig("ipam.nodeName", "must be a node name (a DNS subdomain)");
    }
    out.nodeName = ipam.nodeName;
  }
  if (ipam.timeoutMs !== undefined && ipam.timeoutMs !== null) {
    const t = ipam.timeoutMs;
    if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) {
      throw invalidConfig("ipam.timeoutMs", `must be an integer within 1..${MAX_TIMEOUT_MS}`);
    }
    out.timeoutMs = t;
  }
  const dns = parseDns(ipam.dns);
  if (dns) out.dns = dns;
  return out;
}
