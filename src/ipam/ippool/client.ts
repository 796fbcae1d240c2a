/**
 * A minimal Kubernetes API client over `fetch` for the per-pod path: a bearer
 * token, JSON in and out, and the failure classes the allocator acts on
 * (404, 409, "try again later"). @kubernetes/client-node is not loaded here:
 * the plugin is a fresh process per pod, and that library costs more to load
 * than the whole allocation takes.
 *
 * Every call names its verb, API group and resource literally at the call
 * site (`.kube({ verb: "get", group: "hostgate.io", resource: "ippools", ... })`):
 * the request path is built from exactly those fields, and deploy/api_calls.ts
 * reads them to hold the RBAC rules to what the code calls.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import type { ApiEndpoint } from "./kubeconfig.ts";

/** Sends one request; `fetch` in production, an in-memory API in unit tests. */
export type HttpTransport = (req: Request) => Promise<Response>;

/** The verbs the IPPool backend uses (RBAC verb names). */
export type KubeVerb = "get" | "list" | "create" | "update" | "delete";

/** One API call in RBAC terms. */
export interface KubeCall {
  verb: KubeVerb;
  /** API group, "" for core. */
  group: string;
  /** Plural resource name ("ippools", "pods"). */
  resource: string;
  namespace?: string;
  name?: string;
  labelSelector?: string;
  /** list only: at most this many items. */
  limit?: number;
  /** Object to create or update. */
  body?: unknown;
  /** delete only: fail with 409 unless the object still has this resourceVersion. */
  resourceVersion?: string;
}

/** The API answered with an error status the caller may act on (404, 409, ...). */
export class KubeApiError extends Error {
  readonly status: number;
  /** metav1.Status reason ("NotFound", "AlreadyExists", "Conflict"). */
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = reason;
  }
}

/**
 * The API server could not be used now: unreachable, timed out, 5xx, 429, or
 * the token was refused (the agent refreshes it). CNI code 11: the runtime
 * retries later; nothing was changed by the failed call.
 */
export class KubeUnavailableError extends CniError {
  constructor(msg: string, options?: ErrorOptions) {
    super(
      CniCode.TryAgainLater,
      msg,
      "The Kubernetes API server is needed to allocate from an IPPool; try again later.",
      options,
    );
    this.name = "KubeUnavailableError";
  }
}

/** The HTTP statuses the client and the store act on. */
export const HTTP = {
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  tooManyRequests: 429,
  firstServerError: 500,
} as const;

/** Most characters of a non-Status error body kept in a message. */
const MAX_BODY_CHARS = 200;

/** True for a KubeApiError of `status`. */
export function isStatus(e: unknown, status: number): e is KubeApiError {
  return e instanceof KubeApiError && e.status === status;
}

const VERSIONS: Record<string, string> = { "": "v1", "hostgate.io": "v1alpha1" };
const METHODS: Record<KubeVerb, string> = {
  get: "GET",
  list: "GET",
  create: "POST",
  update: "PUT",
  delete: "DELETE",
};

/** The request path of a call (no literal API path strings: see the module doc). */
export function pathOf(c: KubeCall): string {
  const version = VERSIONS[c.group];
  if (version === undefined) throw new Error(`Cannot call API group ${c.group}: unknown version`);
  const parts = c.group === "" ? ["", "api", version] : ["", "apis", c.group, version];
  if (c.namespace !== undefined) parts.push("namespaces", encodeURIComponent(c.namespace));
  parts.push(c.resource);
  const named = c.verb === "get" || c.verb === "update" || c.verb === "delete";
  if (named) {
    if (!c.name) throw new Error(`Cannot ${c.verb} ${c.resource}: no name`);
    parts.push(encodeURIComponent(c.name));
  }
  const query: string[] = [];
  if (c.verb === "list" && c.labelSelector) {
    query.push(`labelSelector=${encodeURIComponent(c.labelSelector)}`);
  }
  if (c.verb === "list" && c.limit !== undefined) query.push(`limit=${c.limit}`);
  const path = parts.join("/");
  return query.length > 0 ? `${path}?${query.join("&")}` : path;
}

/** Options of a KubeClient. */
export interface KubeClientOptions {
  endpoint: ApiEndpoint;
  transport: HttpTransport;
  /** Per-request timeout. */
  timeoutMs: number;
}

/** Calls the API; see the module doc. */
export class KubeClient {
  readonly #endpoint: ApiEndpoint;
  readonly #transport: HttpTransport;
  readonly #timeoutMs: number;

  constructor(opts: KubeClientOptions) {
    this.#endpoint = opts.endpoint;
    this.#transport = opts.transport;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** The API server URL, for messages. */
  get server(): string {
    return this.#endpoint.server;
  }

  /**
   * Performs one call and returns the decoded JSON body. Throws
   * KubeUnavailableError (code 11) when the API cannot be used now, and
   * KubeApiError for any other error status.
   */
  async kube(call: KubeCall): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#endpoint.token) headers.authorization = `Bearer ${this.#endpoint.token}`;
    let body: string | undefined;
    if (call.body !== undefined) {
      body = JSON.stringify(call.body);
      headers["content-type"] = "application/json";
    } else if (call.verb === "delete" && call.resourceVersion !== undefined) {
      body = JSON.stringify({
        kind: "DeleteOptions",
        apiVersion: "v1",
        preconditions: { resourceVersion: call.resourceVersion },
      });
      headers["content-type"] = "application/json";
    }
    const what = `${call.verb} ${call.resource}${call.name ? ` ${call.name}` : ""}`;
    const url = this.#endpoint.server + pathOf(call);
    let res: Response;
    let text: string;
    try {
      res = await this.#transport(
        new Request(url, {
          method: METHODS[call.verb],
          headers,
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        }),
      );
      text = await res.text();
    } catch (e) {
      const timedOut = e instanceof DOMException &&
        (e.name === "TimeoutError" || e.name === "AbortError");
      throw new KubeUnavailableError(
        timedOut
          ? `Cannot ${what}: the API server ${this.server} did not answer within ${this.#timeoutMs} ms`
          : `Cannot ${what}: the API server ${this.server} is unreachable: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (res.ok) {
      try {
        return JSON.parse(text);
      } catch {
        throw new KubeUnavailableError(`Cannot ${what}: the API server sent no JSON`);
      }
    }
    let reason = res.statusText;
    let message = text.slice(0, MAX_BODY_CHARS);
    try {
      const s = JSON.parse(text) as { reason?: string; message?: string };
      reason = s.reason ?? reason;
      message = s.message ?? message;
    } catch {
      // Not a Status body: keep the text.
    }
    const why = `Cannot ${what}: ${res.status} ${reason}: ${message}`;
    if (
      res.status >= HTTP.firstServerError || res.status === HTTP.tooManyRequests ||
      res.status === HTTP.unauthorized
    ) {
      throw new KubeUnavailableError(why);
    }
    if (res.status === HTTP.forbidden) {
      throw new CniError(
        CniCode.InvalidNetworkConfig,
        why,
        "The kubeconfig's account lacks a permission of deploy/rbac.yaml.",
      );
    }
    throw new KubeApiError(res.status, reason, why);
  }
}

/**
 * The production transport: `fetch`, with an HTTP client trusting the
 * cluster CA when the kubeconfig names one.
 */
export function fetchTransport(caPem?: string): HttpTransport {
  if (!caPem) return (req) => fetch(req);
  const client = Deno.createHttpClient({ caCerts: [caPem] });
  return (req) => fetch(req, { client });
}
