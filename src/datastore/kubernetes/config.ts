/**
 * How the Kubernetes datastore reaches the API server: a kubeconfig file or
 * the in-cluster service account (token file re-read as it rotates), and how
 * client-node failures are read (HTTP status, one-line description).
 * @module
 */

import { KubeConfig } from "@kubernetes/client-node";
import { ApiError } from "./transport.ts";

/** Where the service account is mounted in a pod. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How to reach the API server. */
export interface KubeConfigSource {
  /** A kubeconfig file; when absent the in-cluster config is used. */
  kubeconfigPath?: string;
  /** Environment for in-cluster detection (KUBERNETES_SERVICE_HOST/PORT); default Deno.env. */
  env?: Record<string, string | undefined>;
  /** Service account mount (token, ca.crt, namespace); default SERVICE_ACCOUNT_DIR. */
  serviceAccountDir?: string;
  /** Skip TLS verification (implied for a plain http:// server, which has none). */
  skipTLSVerify?: boolean;
}

/** A loaded client configuration and the namespace it names. */
export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  namespace?: string;
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/**
 * Loads a kubeconfig file, or the in-cluster config (service host from the
 * environment, a token file re-read as it rotates, the mounted CA).
 */
export function loadKubeConfig(src: KubeConfigSource): LoadedKubeConfig {
  const kc = new KubeConfig();
  if (src.kubeconfigPath) {
    kc.loadFromFile(src.kubeconfigPath);
  } else {
    const env = src.env ?? Deno.env.toObject();
    const host = env.KUBERNETES_SERVICE_HOST;
    if (!host) {
      throw new Error(
        "Cannot load the Kubernetes config: no kubeconfig given and KUBERNETES_SERVICE_HOST is unset",
      );
    }
    const port = env.KUBERNETES_SERVICE_PORT ?? "443";
    const dir = src.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    const scheme = ["80", "8080", "8001"].includes(port) ? "http" : "https";
    const h = host.includes(":") ? `[${host}]` : host;
    kc.loadFromOptions({
      clusters: [{
        name: "inCluster",
        server: `${scheme}://${h}:${port}`,
        caFile: `${dir}/ca.crt`,
      }],
      users: [{
        name: "inClusterUser",
        authProvider: { name: "tokenFile", config: { tokenFile: `${dir}/token` } },
      }],
      contexts: [{
        name: "inClusterContext",
        cluster: "inCluster",
        user: "inClusterUser",
        namespace: readOptional(`${dir}/namespace`),
      }],
      currentContext: "inClusterContext",
    });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("Cannot load the Kubernetes config: no current cluster");
  // A plain http:// server has no TLS to verify; client-node still insists on the flag.
  if (src.skipTLSVerify || cluster.server.startsWith("http://")) {
    kc.clusters = kc.clusters.map((c) => c === cluster ? { ...c, skipTLSVerify: true } : c);
  }
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { kubeConfig: kc, namespace: namespace || undefined };
}

/** The HTTP status of an API failure (ApiError or client-node's), if it has one. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.status;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code ??
    (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** One line for logs and errors: the API's message and the HTTP status. */
export function describe(err: unknown): string {
  const status = httpStatus(err);
  const body = (err as { body?: { message?: string } } | null)?.body;
  const msg = body?.message ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
  return status ? `${msg} (HTTP ${status})` : msg ?? String(err);
}
