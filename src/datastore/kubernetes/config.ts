/**
 * How the Kubernetes datastore reaches the API server: a kubeconfig file
 * (JSON or YAML, read as hostile input by kubeconfig.ts) or the in-cluster
 * service account (token file re-read as it rotates, the mounted CA), and how
 * API failures are read (HTTP status, one-line description).
 * @module
 */
import { type KubeAccess, pluginAccess, readCapped, staticAccess } from "./access.ts";
import {
  describeSpec,
  KubeconfigError,
  type KubeconfigSpec,
  parseKubeconfig,
} from "./kubeconfig.ts";
import { ApiError } from "./transport.ts";

export type { KubeAccess } from "./access.ts";
export { KubeconfigError } from "./kubeconfig.ts";

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

/** Decodes YAML text (the `yaml` package, imported only for a YAML kubeconfig). */
export type YamlParse = (text: string) => unknown;

function readOptional(path: string): string | undefined {
  try {
    return readCapped(path, "namespace file", 4096).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The in-cluster access: service host from the environment, the mounted token and CA. */
function inCluster(src: KubeConfigSource): KubeAccess {
  const env = src.env ?? Deno.env.toObject();
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) {
    throw new KubeconfigError("no kubeconfig given and KUBERNETES_SERVICE_HOST is unset");
  }
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  if (!/^\d{1,5}$/.test(port)) throw new KubeconfigError("KUBERNETES_SERVICE_PORT is not a port");
  const dir = src.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  // client-go and client-node alike: these ports are plain HTTP (a local proxy).
  const scheme = ["80", "8080", "8001"].includes(port) ? "http" : "https";
  const h = host.includes(":") ? `[${host}]` : host;
  const spec: KubeconfigSpec = {
    context: "in-cluster",
    server: `${scheme}://${h}:${port}`,
    ca: { file: `${dir}/ca.crt` },
    tokenFile: `${dir}/token`,
    insecure: src.skipTLSVerify === true,
  };
  const namespace = readOptional(`${dir}/namespace`);
  if (namespace !== undefined) spec.namespace = namespace;
  return staticAccess(spec, describeSpec(spec, `in-cluster (${dir})`));
}

/**
 * Loads a kubeconfig file, or the in-cluster config. A YAML kubeconfig needs
 * `yaml` (loadKubeAccessAsync imports it); JSON needs nothing. A user with
 * an exec or auth-provider plugin gets client-node's access (imported on the
 * first request). Throws a `KubeconfigError` ("Cannot load kubeconfig: ...").
 */
export function loadKubeAccess(src: KubeConfigSource, yaml?: YamlParse): KubeAccess {
  const path = src.kubeconfigPath;
  if (!path) return inCluster(src);
  const text = readCapped(path, "kubeconfig");
  let doc: unknown;
  if (/^\s*\{/.test(text)) {
    try {
      doc = JSON.parse(text);
    } catch {
      throw new KubeconfigError(`${path} is not valid JSON`);
    }
  } else if (yaml) {
    try {
      doc = yaml(text);
    } catch (e) {
      // The parser's message quotes the source (a token, a key): only its kind goes out.
      throw new KubeconfigError(`${path} is not valid YAML (${(e as Error).name})`);
    }
  } else {
    throw new KubeconfigError(`${path} is YAML and no YAML parser was loaded`);
  }
  const slash = path.lastIndexOf("/");
  const spec = parseKubeconfig(doc, slash < 0 ? Deno.cwd() : path.slice(0, slash) || "/");
  if (src.skipTLSVerify) spec.insecure = true;
  const summary = describeSpec(spec, `kubeconfig ${path}`);
  return spec.plugin ? pluginAccess(path, spec, summary) : staticAccess(spec, summary);
}

/** `loadKubeAccess`, importing the YAML parser when the kubeconfig is not JSON. */
export async function loadKubeAccessAsync(src: KubeConfigSource): Promise<KubeAccess> {
  const path = src.kubeconfigPath;
  if (path && !/^\s*\{/.test(readCapped(path, "kubeconfig"))) {
    const { parse } = await import("yaml");
    // One document, aliases capped (the library's default 100): a YAML bomb fails, not expands.
    return loadKubeAccess(src, (t) => parse(t, { maxAliasCount: 100 }));
  }
  return loadKubeAccess(src);
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
