/**
 * The plugin's kubeconfig: written by `hostgate-agent install
 * --ippool-kubeconfig` (render), read by the plugin on every IPPool call
 * (parse). Both sides live here so the format cannot drift. The file is JSON
 * (valid YAML too, so kubectl reads it): the plugin runs once per pod and
 * must not load a YAML parser or @kubernetes/client-node for it.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import type { FileSystem } from "../../system/fs.ts";

/** Where the agent writes the plugin's kubeconfig by default. */
export const DEFAULT_PLUGIN_KUBECONFIG = "/etc/cni/net.d/hostgate-kubeconfig";

/** What the plugin needs to reach the API server. */
export interface ApiEndpoint {
  /** "https://10.96.0.1:443". */
  server: string;
  token?: string;
  /** The cluster CA (PEM), to verify the server. */
  caPem?: string;
}

/** A kubeconfig as parsed: inline values or file references. */
export interface ParsedKubeconfig {
  server: string;
  token?: string;
  tokenFile?: string;
  caPem?: string;
  caFile?: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function badKubeconfig(why: string): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, `Cannot read the IPPool kubeconfig: ${why}`);
}

function named(list: unknown, name: string | undefined, what: string): Obj {
  if (!Array.isArray(list)) throw badKubeconfig(`${what}s is not a list`);
  const items = list.filter(isObj);
  const hit = name === undefined
    ? (items.length === 1 ? items[0] : undefined)
    : items.find((i) => i.name === name);
  if (!hit) {
    throw badKubeconfig(`no ${what} ${name === undefined ? "(and not exactly one)" : name}`);
  }
  const body = hit[what];
  if (!isObj(body)) throw badKubeconfig(`${what} ${String(hit.name)} has no ${what} section`);
  return body;
}

function decodeBase64(text: string, what: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
  } catch {
    throw badKubeconfig(`${what} is not base64`);
  }
}

/**
 * Parses a JSON kubeconfig: the current context's cluster (server, CA data or
 * file) and user (token or token file). Throws CniError code 7.
 */
export function parseKubeconfig(text: string): ParsedKubeconfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw badKubeconfig("not JSON (hostgate-agent install writes it as JSON)");
  }
  if (!isObj(doc)) throw badKubeconfig("not an object");
  const current = typeof doc["current-context"] === "string" && doc["current-context"] !== ""
    ? doc["current-context"] as string
    : undefined;
  let clusterName: string | undefined;
  let userName: string | undefined;
  if (current !== undefined) {
    const ctx = named(doc.contexts, current, "context");
    clusterName = typeof ctx.cluster === "string" ? ctx.cluster : undefined;
    userName = typeof ctx.user === "string" ? ctx.user : undefined;
  }
  const cluster = named(doc.clusters, clusterName, "cluster");
  const server = cluster.server;
  if (typeof server !== "string" || !/^https?:\/\/[^/]+/.test(server)) {
    throw badKubeconfig(`cluster server ${JSON.stringify(server)} is not an http(s) URL`);
  }
  const out: ParsedKubeconfig = { server: server.replace(/\/+$/, "") };
  const caData = cluster["certificate-authority-data"];
  if (typeof caData === "string" && caData !== "") {
    out.caPem = decodeBase64(caData, "certificate-authority-data");
  } else if (typeof cluster["certificate-authority"] === "string") {
    out.caFile = cluster["certificate-authority"] as string;
  }
  const users = Array.isArray(doc.users) ? doc.users : [];
  if (users.length > 0 || userName !== undefined) {
    const user = named(doc.users, userName, "user");
    if (typeof user.token === "string" && user.token !== "") out.token = user.token;
    else if (typeof user.tokenFile === "string") out.tokenFile = user.tokenFile;
  }
  return out;
}

/** Reads and parses the kubeconfig at `path`, resolving token and CA files. */
export async function loadKubeconfig(fs: FileSystem, path: string): Promise<ApiEndpoint> {
  let text: string | undefined;
  try {
    text = await fs.readText(path);
  } catch (e) {
    throw badKubeconfig(`${path}: ${(e as Error).message}`);
  }
  if (text === undefined) {
    // The agent's install writes it before the conflist exists: a missing file is a node
    // still being set up, not a broken config.
    throw new CniError(
      CniCode.TryAgainLater,
      `Cannot read the IPPool kubeconfig: ${path} does not exist (yet)`,
      "hostgate-agent install --ippool-kubeconfig writes it from the agent's service account.",
    );
  }
  const k = parseKubeconfig(text);
  const out: ApiEndpoint = { server: k.server };
  const token = k.token ?? (k.tokenFile ? (await fs.readText(k.tokenFile))?.trim() : undefined);
  if (token) out.token = token;
  const ca = k.caPem ?? (k.caFile ? await fs.readText(k.caFile) : undefined);
  if (ca) out.caPem = ca;
  return out;
}

function encodeBase64(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The kubeconfig text the agent writes for the plugin (JSON, stable key order). */
export function renderKubeconfig(e: ApiEndpoint): string {
  const cluster: Obj = { server: e.server };
  if (e.caPem) cluster["certificate-authority-data"] = encodeBase64(e.caPem);
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "hostgate", cluster }],
      users: [{ name: "hostgate-plugin", user: e.token ? { token: e.token } : {} }],
      contexts: [{ name: "hostgate", context: { cluster: "hostgate", user: "hostgate-plugin" } }],
      "current-context": "hostgate",
    },
    null,
    2,
  ) + "\n";
}

/**
 * The in-cluster API URL from KUBERNETES_SERVICE_HOST/PORT (what client-go's
 * InClusterConfig uses), or undefined outside a pod.
 */
export function kubernetesServiceUrl(env: Record<string, string | undefined>): string | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) return undefined;
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
