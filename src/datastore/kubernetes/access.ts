/**
 * Credentials and TLS material for requests to the API server, from a parsed
 * kubeconfig or the in-cluster service account: a bearer token (inline, or a
 * file re-read whenever it changes, as projected service account tokens
 * rotate), basic auth, a client certificate, the CA. A kubeconfig user with
 * an `exec` or `auth-provider` plugin is served by @kubernetes/client-node,
 * imported only then (its import costs the agent ~30 MiB and ~250 ms).
 * Nothing here logs or throws a credential's value.
 * @module
 */
import { KubeconfigError, type KubeconfigSpec, type Material } from "./kubeconfig.ts";
import { checkToken, MAX_KUBECONFIG_BYTES } from "./kubeconfig.ts";

/** TLS material for the HTTP client (PEM text). */
export interface TlsMaterial {
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  /** insecure-skip-tls-verify (refused for https by the transport). */
  insecure: boolean;
}

/** How to reach one API server. */
export interface KubeAccess {
  /** Base URL, no trailing slash. */
  readonly server: string;
  /** The namespace the config names, if any. */
  readonly namespace?: string;
  /** One line for logs: server, context, kind of credentials; never a secret. */
  readonly summary: string;
  /** Headers of the next request (authorization); a rotated token file is read again. */
  headers(): Promise<Record<string, string>>;
  /** The TLS material, read once per HTTP client. */
  tls(): Promise<TlsMaterial>;
}

/** Reads a file as text, refusing more than `max` bytes (a kubeconfig is hostile input). */
export function readCapped(path: string, what: string, max = MAX_KUBECONFIG_BYTES): string {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new KubeconfigError(`cannot read ${what} ${path}: ${(e as Error).name}`);
  }
  try {
    const buf = new Uint8Array(max + 1);
    let n = 0;
    for (;;) {
      const got = f.readSync(buf.subarray(n));
      if (got === null) break;
      n += got;
      if (n > max) throw new KubeconfigError(`${what} ${path} is larger than ${max} bytes`);
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      throw new KubeconfigError(`${what} ${path} is not UTF-8 text`);
    }
  } catch (e) {
    if (e instanceof KubeconfigError) throw e;
    throw new KubeconfigError(`cannot read ${what} ${path}: ${(e as Error).name}`);
  } finally {
    f.close();
  }
}

function pemOf(m: Material | undefined, what: string): string | undefined {
  if (m === undefined) return undefined;
  return "pem" in m ? m.pem : readCapped(m.file, what);
}

/**
 * A token file read again only when it changed (inode, size or mtime): a
 * projected service account token is replaced about hourly, and a request
 * must never carry one the kubelet has already swapped out.
 */
export class TokenFile {
  readonly path: string;
  #key = "";
  #token = "";
  constructor(path: string) {
    this.path = path;
  }

  /** The current token; throws a KubeconfigError when the file is unreadable or empty. */
  async get(): Promise<string> {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(this.path);
    } catch (e) {
      throw new KubeconfigError(`cannot read token file ${this.path}: ${(e as Error).name}`);
    }
    const key = `${st.ino}:${st.size}:${st.mtime?.getTime()}`;
    if (key !== this.#key) {
      this.#token = checkToken(readCapped(this.path, "token file", 1 << 16), "token file");
      this.#key = key;
    }
    return this.#token;
  }
}

/** An Authorization value for "user:password" (UTF-8, as client-go sends it). */
function basicHeader(userPass: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(userPass)) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

/** Access with the credentials of a parsed kubeconfig (or the in-cluster account). */
export function staticAccess(spec: KubeconfigSpec, summary: string): KubeAccess {
  const tokenFile = spec.tokenFile !== undefined ? new TokenFile(spec.tokenFile) : undefined;
  return {
    server: spec.server,
    namespace: spec.namespace,
    summary,
    async headers(): Promise<Record<string, string>> {
      const token = spec.token ?? await tokenFile?.get();
      if (token !== undefined) return { authorization: `Bearer ${token}` };
      if (spec.basic) {
        return { authorization: basicHeader(`${spec.basic.username}:${spec.basic.password}`) };
      }
      return {};
    },
    tls() {
      return Promise.resolve({
        caPem: pemOf(spec.ca, "certificate authority"),
        certPem: pemOf(spec.clientCert, "client certificate"),
        keyPem: pemOf(spec.clientKey, "client key"),
        insecure: spec.insecure,
      });
    },
  };
}

/** What client-node's applyToHTTPSOptions fills in. */
interface HttpsOptions {
  headers?: Record<string, string | string[] | number>;
  auth?: string;
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  rejectUnauthorized?: boolean;
}

const text = (v: string | Uint8Array | undefined) =>
  v === undefined ? undefined : typeof v === "string" ? v : new TextDecoder().decode(v);

/** The module loader of the fallback (client_node.ts). */
export type ClientNodeImport = () => Promise<typeof import("./client_node.ts")>;

/**
 * Access through client-node for a user with an `exec` or `auth-provider`
 * plugin (cloud CLIs, OIDC): it runs the plugin and caches the credential as
 * it always did here. Imported on the first request, not at load.
 */
export function pluginAccess(
  kubeconfigPath: string,
  spec: KubeconfigSpec,
  summary: string,
  load: ClientNodeImport = () => import("./client_node.ts"),
): KubeAccess {
  let kc: Promise<import("./client_node.ts").KubeConfig> | undefined;
  const options = async (): Promise<HttpsOptions> => {
    kc ??= load().then((m) => {
      const k = new m.KubeConfig();
      k.loadFromFile(kubeconfigPath);
      k.setCurrentContext(spec.context);
      // A plain http:// server has no TLS to verify; client-node still insists on the flag.
      if (spec.insecure || spec.server.startsWith("http://")) {
        const c = k.getCurrentCluster();
        k.clusters = k.clusters.map((x) => x === c ? { ...x, skipTLSVerify: true } : x);
      }
      return k;
    });
    const o: HttpsOptions = {};
    await (await kc).applyToHTTPSOptions(o as never);
    return o;
  };
  return {
    server: spec.server,
    namespace: spec.namespace,
    summary,
    async headers() {
      const o = await options();
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers ?? {})) {
        out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : String(v);
      }
      if (o.auth) out.authorization = basicHeader(o.auth);
      return out;
    },
    async tls() {
      const o = await options();
      return {
        caPem: text(o.ca),
        certPem: text(o.cert),
        keyPem: text(o.key),
        insecure: spec.insecure,
      };
    },
  };
}
