/**
 * How the Kubernetes datastore reaches the API server: Deno's fetch with a
 * `Deno.createHttpClient` for the CA and client certificate, credentials from
 * a `KubeAccess` (access.ts: kubeconfig or in-cluster, token re-read as it
 * rotates; client-node only for exec/auth-provider plugins). client-node's
 * own list and informer parse a whole LIST into one object tree and keep
 * every object; this path streams and projects instead. The few writes
 * (register's Node patch, the allocation ConfigMap) go the same way, so
 * client-node's generated API classes and models are never loaded.
 * @module
 */

import type { KubeAccess, TlsMaterial } from "./access.ts";

/** A non-2xx answer of the API server, with the Status body's message. */
export class ApiError extends Error {
  /** HTTP status (410 Gone means "relist"). */
  readonly status: number;
  /** The Status reason, e.g. "Expired", "Conflict". */
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason;
  }
}

/** A JSON request of `ApiTransport.request`. */
export interface ApiRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Default application/json (a PATCH names its patch type here). */
  contentType?: string;
  signal?: AbortSignal;
}

/** Requests against one API server. */
export interface ApiTransport {
  /** GET `path` with `query`; the response streams. Non-2xx answers throw `ApiError`. */
  get(path: string, query: URLSearchParams, signal: AbortSignal): Promise<Response>;
  /** One JSON request and its decoded answer; non-2xx answers throw `ApiError`. */
  request<T>(req: ApiRequest): Promise<T>;
  /** Releases the connection pool. */
  close(): void;
}

/** Reads a metav1.Status failure body into an ApiError (tolerates any body). */
export async function apiErrorOf(res: Response): Promise<ApiError> {
  let reason = "";
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = JSON.parse(await res.text()) as { reason?: string; message?: string };
    reason = body.reason ?? "";
    message = body.message ?? message;
  } catch {
    // not a Status body
  }
  return new ApiError(res.status, reason, message);
}

/** Builds the TLS client (Deno.createHttpClient in production; tests may record the call). */
export type HttpClientFactory = (opts: Deno.CreateHttpClientOptions) => Deno.HttpClient;

/**
 * A transport over Deno's fetch to `access.server`. Headers are asked for
 * per request (a rotated token is picked up); the TLS client (CA, client
 * certificate) is built on first use.
 */
export function fetchTransport(
  access: KubeAccess,
  createClient: HttpClientFactory = (o) => Deno.createHttpClient(o),
): ApiTransport {
  const base = access.server;
  const https = base.startsWith("https:");
  let client: Deno.HttpClient | undefined;
  const prepare = async (): Promise<Headers> => {
    const headers = new Headers({ accept: "application/json", ...(await access.headers()) });
    if (https && client === undefined) {
      client = createClient(clientOptions(base, await access.tls()));
    }
    return headers;
  };
  return {
    async request<T>(req: ApiRequest): Promise<T> {
      const headers = await prepare();
      if (req.body !== undefined) {
        headers.set("content-type", req.contentType ?? "application/json");
      }
      const res = await fetch(`${base}${req.path}`, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: req.signal,
        ...(client ? { client } : {}),
      });
      if (!res.ok) throw await apiErrorOf(res);
      return await res.json() as T;
    },
    async get(path, query, signal) {
      const headers = await prepare();
      const qs = query.toString();
      const res = await fetch(`${base}${path}${qs ? `?${qs}` : ""}`, {
        headers,
        signal,
        ...(client ? { client } : {}),
      });
      if (!res.ok) throw await apiErrorOf(res);
      return res;
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

/** The HTTP client options of `tls`; insecure https is refused (Deno cannot skip verification). */
export function clientOptions(base: string, tls: TlsMaterial): Deno.CreateHttpClientOptions {
  if (tls.insecure) {
    throw new Error(
      `Cannot reach the Kubernetes API at ${base}: insecure-skip-tls-verify is not supported ` +
        "for https; give the cluster's CA (certificate-authority or in-cluster ca.crt)",
    );
  }
  return {
    ...(tls.caPem ? { caCerts: [tls.caPem] } : {}),
    ...(tls.certPem && tls.keyPem ? { cert: tls.certPem, key: tls.keyPem } : {}),
  };
}
