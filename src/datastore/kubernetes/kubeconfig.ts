/**
 * A kubeconfig document read as hostile input, without @kubernetes/client-node
 * (whose import alone costs the agent ~30 MiB and ~250 ms): the current
 * context's cluster (server, CA inline or by file, insecure flag) and user
 * (token or token file, client certificate and key inline or by file, basic
 * auth), file paths resolved against the kubeconfig's directory as kubectl
 * does. A user with an `exec` or `auth-provider` plugin is reported as such:
 * access.ts hands those to client-node, so nothing that worked stops working.
 * Pure: the caller reads the file (size-capped) and decodes JSON or YAML.
 * Errors say `Cannot load kubeconfig: <state>` and never quote a credential.
 * @module
 */

/** Largest kubeconfig (and CA, certificate, key or token file) read: far above real ones. */
export const MAX_KUBECONFIG_BYTES = 1 << 20;

/** Inline PEM text or a file holding it. */
export type Material = { pem: string } | { file: string };

/** What the current context says about reaching the API server. */
export interface KubeconfigSpec {
  /** The context used (current-context). */
  context: string;
  /** API server base URL, no trailing slash ("https://10.0.0.1:6443"). */
  server: string;
  /** The context's namespace, if it names one. */
  namespace?: string;
  ca?: Material;
  /** insecure-skip-tls-verify. */
  insecure: boolean;
  clientCert?: Material;
  clientKey?: Material;
  token?: string;
  tokenFile?: string;
  basic?: { username: string; password: string };
  /** A credential plugin this loader does not run itself (client-node does). */
  plugin?: "exec" | "auth-provider";
}

/** A kubeconfig that cannot be used; the message names what is wrong, never a secret. */
export class KubeconfigError extends Error {
  constructor(state: string) {
    super(`Cannot load kubeconfig: ${state}`);
    this.name = "KubeconfigError";
  }
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A string field, or undefined when absent or empty; a non-string is an error. */
function str(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new KubeconfigError(`${where}.${key} is not a string`);
  return v;
}

/** The entry `name` of a named list (clusters, users, contexts) and its body. */
function entry(doc: Obj, list: string, name: string, body: string): Obj {
  const items = doc[list];
  if (items === undefined || items === null) throw new KubeconfigError(`no ${list}`);
  if (!Array.isArray(items)) throw new KubeconfigError(`${list} is not a list`);
  const hits = items.filter((i) => isObj(i) && i.name === name) as Obj[];
  if (hits.length === 0) throw new KubeconfigError(`no ${body} named ${JSON.stringify(name)}`);
  if (hits.length > 1) throw new KubeconfigError(`${body} ${JSON.stringify(name)} is listed twice`);
  const b = hits[0]![body];
  if (b === undefined || b === null) return {};
  if (!isObj(b)) throw new KubeconfigError(`${body} ${JSON.stringify(name)} is not a mapping`);
  return b;
}

/** Decodes base64 *-data to text (PEM); refuses what is not base64. */
function fromBase64(text: string, where: string): string {
  const clean = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new KubeconfigError(`${where} is not base64`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(clean), (c) => c.charCodeAt(0)),
    );
  } catch {
    throw new KubeconfigError(`${where} is not base64 of text`);
  }
}

/** An absolute path: relative ones are relative to the kubeconfig's directory (as kubectl). */
function resolvePath(p: string, baseDir: string | undefined): string {
  if (p.startsWith("/") || baseDir === undefined) return p;
  return `${baseDir.replace(/\/+$/, "")}/${p}`;
}

/** Inline data wins over a file, as in client-go. */
function material(
  o: Obj,
  dataKey: string,
  fileKey: string,
  where: string,
  baseDir: string | undefined,
): Material | undefined {
  const data = str(o, dataKey, where);
  if (data !== undefined) return { pem: fromBase64(data, `${where}.${dataKey}`) };
  const file = str(o, fileKey, where);
  return file === undefined ? undefined : { file: resolvePath(file, baseDir) };
}

/** Checks an API server URL: http(s), a host, no credentials, no query or fragment. */
export function checkServer(server: string, where: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw new KubeconfigError(`${where} is not a URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new KubeconfigError(`${where} is not http(s) (${u.protocol})`);
  }
  if (u.username || u.password) throw new KubeconfigError(`${where} carries credentials`);
  if (u.search || u.hash) throw new KubeconfigError(`${where} has a query or fragment`);
  if (!u.hostname) throw new KubeconfigError(`${where} has no host`);
  return server.replace(/\/+$/, "");
}

/**
 * The current context's cluster and user of a decoded kubeconfig. `baseDir`
 * is the kubeconfig's directory (relative file paths are resolved against it).
 */
export function parseKubeconfig(doc: unknown, baseDir?: string): KubeconfigSpec {
  if (!isObj(doc)) throw new KubeconfigError("the document is not a mapping");
  const context = str(doc, "current-context", "kubeconfig");
  if (context === undefined) throw new KubeconfigError("current-context is not set");
  const ctx = entry(doc, "contexts", context, "context");
  const where = `context ${JSON.stringify(context)}`;
  const clusterName = str(ctx, "cluster", where);
  if (clusterName === undefined) throw new KubeconfigError(`${where} names no cluster`);
  const cluster = entry(doc, "clusters", clusterName, "cluster");
  const cw = `cluster ${JSON.stringify(clusterName)}`;
  const server = str(cluster, "server", cw);
  if (server === undefined) throw new KubeconfigError(`${cw} has no server`);
  const spec: KubeconfigSpec = {
    context,
    server: checkServer(server, `${cw} server`),
    insecure: cluster["insecure-skip-tls-verify"] === true,
  };
  const namespace = str(ctx, "namespace", where);
  if (namespace !== undefined) spec.namespace = namespace;
  const ca = material(
    cluster,
    "certificate-authority-data",
    "certificate-authority",
    cw,
    baseDir,
  );
  if (ca) spec.ca = ca;
  const userName = str(ctx, "user", where);
  if (userName === undefined) return spec; // anonymous (or client certificates elsewhere)
  const user = entry(doc, "users", userName, "user");
  const uw = `user ${JSON.stringify(userName)}`;
  if (user.exec !== undefined && user.exec !== null) spec.plugin = "exec";
  else if (user["auth-provider"] !== undefined && user["auth-provider"] !== null) {
    spec.plugin = "auth-provider";
  }
  const cert = material(user, "client-certificate-data", "client-certificate", uw, baseDir);
  const key = material(user, "client-key-data", "client-key", uw, baseDir);
  if ((cert === undefined) !== (key === undefined)) {
    throw new KubeconfigError(`${uw} has a client certificate without its key, or a key alone`);
  }
  if (cert && key) [spec.clientCert, spec.clientKey] = [cert, key];
  const token = str(user, "token", uw);
  if (token !== undefined) spec.token = checkToken(token, `${uw}.token`);
  else {
    // client-go spells it tokenFile; client-node read "token-file": both keep working.
    const file = str(user, "tokenFile", uw) ?? str(user, "token-file", uw);
    if (file !== undefined) spec.tokenFile = resolvePath(file, baseDir);
  }
  const username = str(user, "username", uw);
  const password = str(user, "password", uw);
  if (username !== undefined && spec.token === undefined && spec.tokenFile === undefined) {
    if (/[\r\n:]/.test(username)) throw new KubeconfigError(`${uw}.username is malformed`);
    spec.basic = { username, password: password ?? "" };
  }
  return spec;
}

/** A bearer token fit for a header: trimmed, no control characters (CR/LF would inject headers). */
export function checkToken(token: string, where: string): string {
  const t = token.trim();
  if (t === "") throw new KubeconfigError(`${where} is empty`);
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(t)) {
    throw new KubeconfigError(`${where} holds control characters`);
  }
  return t;
}

/** One line for logs: where the server is and how we authenticate, no secret values. */
export function describeSpec(spec: KubeconfigSpec, source: string): string {
  const auth = spec.plugin
    ? `${spec.plugin} plugin (through client-node)`
    : spec.token !== undefined
    ? "token (inline)"
    : spec.tokenFile !== undefined
    ? `token file ${spec.tokenFile}`
    : spec.clientCert
    ? "client certificate"
    : spec.basic
    ? "basic auth"
    : "no credentials";
  const ca = spec.ca ? ("file" in spec.ca ? `CA ${spec.ca.file}` : "CA (inline)") : "system CAs";
  return `${source}: ${spec.server} (context ${spec.context}, ${auth}, ${ca})`;
}
