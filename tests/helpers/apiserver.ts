/**
 * An in-process HTTP server that behaves like kube-apiserver for what
 * hostgate uses, so the real `@kubernetes/client-node` clients and informers
 * can be driven in tests without a cluster: list with a resourceVersion, get,
 * paginated list (limit, continue tokens on a consistent snapshot, 410 on an
 * expired one), watch-list (sendInitialEvents, the initial-events-end
 * bookmark), create (409 AlreadyExists), update (409 Conflict on a stale
 * resourceVersion), merge/strategic/JSON patch incl. /status, delete with
 * preconditions, watch streams with bookmarks and 410 Gone, selectors.
 * Resources are generic (core nodes, configmaps, pods, namespaces and
 * hostgate.io custom resources by default; more via options), and the test
 * controls simulate an outage, a failing API, a compacted history, and count
 * requests per verb and resource (for RBAC checks).
 * @module
 */

import {
  ApiStatusError,
  apiVersionOf,
  compileFilter,
  type KubeObject,
  type ResourceDef,
} from "./apiserver_semantics.ts";
import { ObjectStore } from "./apiserver_store.ts";
import {
  DEFAULT_RESOURCES,
  discovery,
  errorResponse,
  json,
  openWatch,
  reasonOf,
  type RequestRecord,
  type Route,
  routeOf,
  statusBody,
  type WatchHandle,
} from "./apiserver_http.ts";

export { DEFAULT_RESOURCES, type RequestRecord } from "./apiserver_http.ts";
export type { KubeObject, ResourceDef } from "./apiserver_semantics.ts";
export { ObjectStore } from "./apiserver_store.ts";

/** Options of `startApiServer`. */
export interface ApiServerOptions {
  /** Served resources; default DEFAULT_RESOURCES. */
  resources?: readonly ResourceDef[];
  /** Extra resources served in addition to `resources`. */
  extraResources?: readonly ResourceDef[];
  /** Events kept for watch resumption (older resourceVersions get 410). Default 100000. */
  watchWindow?: number;
  /** Bearer token required on every request; default a random one. */
  token?: string;
  /** Namespace of the kubeconfig context. Default "kube-system". */
  namespace?: string;
  /** Interval of BOOKMARK events on watches that allow them. Default 5000 ms. */
  bookmarkIntervalMs?: number;
  /** Server-side cap on a watch's duration (like --min-request-timeout). Default 300 s. */
  maxWatchSeconds?: number;
  /** Address to listen on; default 127.0.0.1 (the simulated cluster uses a node-segment IP). */
  hostname?: string;
  /** Serve watch-list (sendInitialEvents=true); false answers 422 like a server without it. */
  watchList?: boolean;
}

/** How `setDown(true)` makes the API unreachable. */
export type DownMode = "refuse" | "503";

interface Barrier {
  n: number;
  match?: (r: RequestRecord) => boolean;
  held: (() => void)[];
  timer: ReturnType<typeof setTimeout>;
}

function listen(
  addr: { hostname: string; port: number },
  handler: (req: Request) => Promise<Response>,
): Deno.HttpServer {
  return Deno.serve({ hostname: addr.hostname, port: addr.port, onListen: () => {} }, handler);
}

/** A running fake apiserver; create with `startApiServer`. */
export class ApiServer {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  /** The address it listens on. */
  readonly hostname: string;
  /** A kubeconfig (JSON, valid YAML) pointing at `url` with `token`, skipTLSVerify set. */
  readonly kubeconfigPath: string;
  readonly token: string;
  /** Every request in order (clear with `requests.length = 0`). */
  readonly requests: RequestRecord[] = [];
  /** The state, for direct inspection. */
  readonly store: ObjectStore;
  readonly resources: readonly ResourceDef[];

  /** Watches and LIST pages answered with 410 Gone (older than the retained history). */
  expired = 0;
  /** LIST responses served (pages). */
  listPages = 0;
  /** Whether `sendInitialEvents` watches are served (the WatchList feature); settable. */
  watchList: boolean;

  #http: Deno.HttpServer;
  #dir: string;
  #watchers = new Set<WatchHandle>();
  #failures: { remaining: number; status: number; match?: (r: RequestRecord) => boolean }[] = [];
  #down: DownMode | undefined;
  #barriers: Barrier[] = [];
  #opts: Required<Pick<ApiServerOptions, "bookmarkIntervalMs" | "maxWatchSeconds">>;
  #closed = false;

  /** Use `startApiServer`. */
  constructor(init: {
    http: Deno.HttpServer;
    port: number;
    dir: string;
    token: string;
    store: ObjectStore;
    resources: readonly ResourceDef[];
    opts: ApiServerOptions;
  }) {
    this.#http = init.http;
    this.port = init.port;
    this.hostname = init.opts.hostname ?? "127.0.0.1";
    this.url = `http://${this.hostname}:${init.port}`;
    this.#dir = init.dir;
    this.kubeconfigPath = `${init.dir}/kubeconfig`;
    this.token = init.token;
    this.store = init.store;
    this.resources = init.resources;
    this.watchList = init.opts.watchList ?? true;
    this.#opts = {
      bookmarkIntervalMs: init.opts.bookmarkIntervalMs ?? 5000,
      maxWatchSeconds: init.opts.maxWatchSeconds ?? 300,
    };
  }

  /** Number of open watch streams. */
  get watchCount(): number {
    return this.#watchers.size;
  }

  /** Counts recorded requests matching every given field. */
  count(match: Partial<RequestRecord>): number {
    return this.requests.filter((r) =>
      Object.entries(match).every(([k, v]) => r[k as keyof RequestRecord] === v)
    ).length;
  }

  /** Finds a served resource by plural name ("nodes") or "plural.group" ("ippools.hostgate.io"). */
  resource(name: string): ResourceDef {
    const hits = this.resources.filter((d) =>
      d.resource === name || `${d.resource}.${d.group}` === name
    );
    if (hits.length !== 1) throw new Error(`Cannot find resource: ${name} (${hits.length} match)`);
    return hits[0]!;
  }

  /** Creates or replaces an object directly (no resourceVersion check), as a controller would. */
  put(resource: string, obj: KubeObject): KubeObject {
    const def = this.resource(resource);
    const ns = obj.metadata.namespace ?? "default";
    const name = obj.metadata.name!;
    try {
      this.store.get(def, ns, name);
    } catch {
      return this.store.create(def, ns, obj);
    }
    return this.store.update(def, ns, obj, { name, force: true });
  }

  /** Reads one object directly (undefined when absent). */
  get(resource: string, name: string, namespace = "default"): KubeObject | undefined {
    try {
      return this.store.get(this.resource(resource), namespace, name);
    } catch {
      return undefined;
    }
  }

  /** Lists objects of a resource directly. */
  list(resource: string, namespace?: string): KubeObject[] {
    return this.store.list(this.resource(resource), compileFilter({ namespace }));
  }

  /** Deletes an object directly; false when it was absent. */
  remove(resource: string, name: string, namespace = "default"): boolean {
    try {
      this.store.delete(this.resource(resource), namespace, name);
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the event history: watches resuming from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Ends every open watch stream cleanly (as an apiserver restart or timeout does). */
  dropWatches(): void {
    for (const w of [...this.#watchers]) w.close();
  }

  /**
   * Fails the next `n` API requests (optionally only those matching) with
   * `status` (default 503) and a Status body.
   */
  failNext(
    n: number,
    opts: { status?: number; match?: (r: RequestRecord) => boolean } = {},
  ): void {
    this.#failures.push({ remaining: n, status: opts.status ?? 503, match: opts.match });
  }

  /**
   * Holds the next `n` requests matching `match` until all `n` have arrived,
   * then lets them through together: makes a race (several clients reading
   * the same resourceVersion before writing) happen every time. Released
   * anyway after `timeoutMs` (default 5000) so a test cannot hang.
   */
  barrier(n: number, match?: (r: RequestRecord) => boolean, timeoutMs = 5000): void {
    const b: Barrier = {
      n,
      match,
      held: [],
      timer: setTimeout(() => this.#release(b), timeoutMs),
    };
    this.#barriers.push(b);
  }

  #release(b: Barrier): void {
    clearTimeout(b.timer);
    this.#barriers = this.#barriers.filter((x) => x !== b);
    b.held.forEach((go) => go());
  }

  /**
   * Makes the API unreachable: "refuse" closes the listening socket (new
   * connections are refused; a request on a keep-alive connection opened
   * before gets 503 and the connection is closed), "503" answers every request
   * with 503. Open watches are ended either way.
   * `setDown(false)` listens again on the same port.
   */
  async setDown(down: boolean, mode: DownMode = "refuse"): Promise<void> {
    if (down) {
      if (this.#down) return;
      this.#down = mode;
      this.dropWatches();
      if (mode === "refuse") await this.#http.shutdown();
      return;
    }
    if (this.#down === "refuse") {
      this.#http = listen(
        { hostname: this.hostname, port: this.port },
        (req) => this.handle(req),
      );
    }
    this.#down = undefined;
  }

  /** Ends all watches, stops listening and removes the kubeconfig. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    [...this.#barriers].forEach((b) => this.#release(b));
    this.dropWatches();
    if (this.#down !== "refuse") await this.#http.shutdown();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** Serves one request (exposed so tests can call it without a socket). */
  async handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const rec: RequestRecord = { verb: "discovery", group: "", resource: "", code: 0 };
    const answer = (res: Response) => {
      rec.code = res.status;
      this.requests.push(rec);
      return res;
    };
    try {
      const route = routeOf(this.resources, url);
      if (route !== "discovery") {
        const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
        const m = req.method;
        rec.verb = m === "GET"
          ? route.name ? "get" : watch ? "watch" : "list"
          : m === "POST"
          ? "create"
          : m === "PUT"
          ? "update"
          : m === "PATCH"
          ? "patch"
          : "delete";
        rec.group = route.def.group;
        rec.resource = route.def.resource;
        if (route.subresource) rec.subresource = route.subresource;
        if (route.def.namespaced && route.namespace) rec.namespace = route.namespace;
        if (route.name) rec.name = route.name;
      }
      if (this.#down) {
        // "refuse": new connections are refused; a request on a keep-alive
        // connection opened before still gets in, and is failed and closed.
        const res = json(statusBody(503, "ServiceUnavailable", "apiserver is down"), 503);
        if (this.#down === "refuse") res.headers.set("connection", "close");
        return answer(res);
      }
      if (req.headers.get("authorization") !== `Bearer ${this.token}`) {
        return answer(json(statusBody(401, "Unauthorized", "Unauthorized"), 401));
      }
      const fail = this.#failures.find((f) => f.remaining > 0 && (!f.match || f.match(rec)));
      if (fail) {
        fail.remaining--;
        this.#failures = this.#failures.filter((f) => f.remaining > 0);
        return answer(
          json(statusBody(fail.status, reasonOf(fail.status), "injected failure"), fail.status),
        );
      }
      const b = this.#barriers.find((b) => !b.match || b.match(rec));
      if (b) {
        const passed = new Promise<void>((go) => b.held.push(go));
        if (b.held.length >= b.n) this.#release(b);
        await passed;
      }
      if (route === "discovery") return answer(json(discovery(this.resources, url.pathname)));
      return answer(await this.#serve(req, url, route, rec));
    } catch (e) {
      await req.body?.cancel().catch(() => {});
      return answer(errorResponse(e));
    }
  }

  async #serve(req: Request, url: URL, route: Route, rec: RequestRecord): Promise<Response> {
    const { def, namespace: ns } = route;
    const q = url.searchParams;
    const name = route.name;
    const filter = {
      namespace: def.namespaced && ns ? ns : undefined,
      labelSelector: q.get("labelSelector") ?? undefined,
      fieldSelector: q.get("fieldSelector") ?? undefined,
    };
    if (route.subresource && (route.subresource !== "status" || !def.status)) {
      throw new ApiStatusError(404, "NotFound", `the server could not find ${url.pathname}`);
    }
    if (def.namespaced && !ns && req.method !== "GET") {
      throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
    }
    switch (rec.verb) {
      case "get":
        return json(this.store.get(def, ns, name!));
      case "list":
        return this.#list(def, filter, q);
      case "watch":
        return this.#watch(def, filter, q);
      case "create": {
        const body = await req.json();
        return json(this.store.create(def, ns, body), 201);
      }
      case "update": {
        const body = await req.json();
        return json(
          this.store.update(def, ns, body, { name: name!, subresource: route.subresource }),
        );
      }
      case "patch": {
        const ct = (req.headers.get("content-type") ?? "").split(";")[0]!.trim();
        const type = ct === "application/json-patch+json"
          ? "json"
          : ["application/merge-patch+json", "application/strategic-merge-patch+json"].includes(ct)
          ? "merge"
          : undefined;
        if (!type) {
          await req.body?.cancel();
          throw new ApiStatusError(415, "UnsupportedMediaType", `unsupported patch type ${ct}`);
        }
        const patch = await req.json();
        return json(
          this.store.patch(def, ns, { name: name!, subresource: route.subresource, type, patch }),
        );
      }
      case "delete": {
        const text = await req.text();
        const opts = text ? JSON.parse(text) : {};
        return json(this.store.delete(def, ns, name!, opts.preconditions));
      }
      default:
        throw new ApiStatusError(405, "MethodNotAllowed", `${req.method} not allowed`);
    }
  }

  /**
   * LIST with the apiserver's paging: `limit` and an opaque `continue` token
   * holding the snapshot's resourceVersion and the last key served; every
   * page is served from that snapshot, and a token whose resourceVersion left
   * the retained history is answered 410 Expired, as etcd compaction does.
   */
  #list(
    def: ResourceDef,
    filter: { namespace?: string; labelSelector?: string; fieldSelector?: string },
    q: URLSearchParams,
  ): Response {
    const limit = Math.max(0, Number(q.get("limit") ?? 0) || 0);
    const token = q.get("continue");
    let from: { rv?: number; after?: string } = {};
    if (token) {
      try {
        const t = JSON.parse(atob(token)) as { rv: number; after: string };
        if (typeof t.rv !== "number" || typeof t.after !== "string") throw new Error("shape");
        from = t;
      } catch {
        throw new ApiStatusError(400, "BadRequest", "continue key is not valid");
      }
    } else if (q.get("resourceVersionMatch") === "Exact" && q.get("resourceVersion")) {
      from = { rv: Number(q.get("resourceVersion")) };
    }
    const page = this.store.listPage(def, compileFilter(filter), { ...from, limit });
    if (!page) {
      this.expired++;
      throw new ApiStatusError(
        410,
        "Expired",
        token
          ? "The provided continue parameter is too old to display a consistent list result. " +
            "You can start a new list without the continue parameter."
          : `too old resource version: ${from.rv} (${this.store.compactedRevision})`,
      );
    }
    this.listPages++;
    const next = page.more ? btoa(JSON.stringify({ rv: page.rv, after: page.last })) : undefined;
    const head = JSON.stringify({
      kind: `${def.kind}List`,
      apiVersion: apiVersionOf(def),
      metadata: { resourceVersion: String(page.rv), ...(next ? { continue: next } : {}) },
    });
    // Items are spliced in as their cached JSON texts: a big LIST is not re-serialized.
    return new Response(`${head.slice(0, -1)},"items":[${page.items.join(",")}]}`, {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  }

  #watch(
    def: ResourceDef,
    filter: { namespace?: string; labelSelector?: string; fieldSelector?: string },
    q: URLSearchParams,
  ): Response {
    return openWatch({
      def,
      store: this.store,
      filter,
      query: q,
      bookmarkIntervalMs: this.#opts.bookmarkIntervalMs,
      maxWatchSeconds: this.#opts.maxWatchSeconds,
      track: this.#watchers,
      onExpired: () => this.expired++,
      watchList: this.watchList,
    });
  }
}

/** Starts a server on 127.0.0.1 with a random port and writes its kubeconfig. */
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const token = opts.token ?? crypto.randomUUID();
  const store = new ObjectStore({ watchWindow: opts.watchWindow ?? 100_000 });
  const resources = [...(opts.resources ?? DEFAULT_RESOURCES), ...(opts.extraResources ?? [])]
    .map((d) => ({ ...d, unconditionalUpdate: d.unconditionalUpdate ?? d.group === "" }));
  const dir = await Deno.makeTempDir({ prefix: "hostgate-apiserver-" });
  const box: { server?: ApiServer } = {};
  const hostname = opts.hostname ?? "127.0.0.1";
  const http = listen({ hostname, port: 0 }, (req) => box.server!.handle(req));
  const port = (http.addr as Deno.NetAddr).port;
  const server = box.server = new ApiServer({ http, port, dir, token, store, resources, opts });
  const ns = opts.namespace ?? "kube-system";
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "hostgate-test",
      cluster: { server: server.url, "insecure-skip-tls-verify": true },
    }],
    users: [{ name: "hostgate-test", user: { token } }],
    contexts: [{
      name: "hostgate-test",
      context: { cluster: "hostgate-test", user: "hostgate-test", namespace: ns },
    }],
    "current-context": "hostgate-test",
  };
  await Deno.writeTextFile(server.kubeconfigPath, JSON.stringify(kubeconfig, null, 2), {
    mode: 0o600,
  });
  return server;
}
