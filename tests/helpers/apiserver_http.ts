/**
 * Response builders of the test list/watch server: metav1.Status bodies,
 * discovery documents and the watch stream (newline-delimited JSON events,
 * replay from a resourceVersion, 410 Gone as an ERROR event, bookmarks,
 * timeoutSeconds, selector-aware ADDED/DELETED transitions).
 * @module
 */

import {
  ApiStatusError,
  apiVersionOf,
  compileFilter,
  type KubeObject,
  type ObjectFilter,
  type ResourceDef,
} from "./apiserver_semantics.ts";
import type { ObjectStore, StoreEvent } from "./apiserver_store.ts";

const enc = new TextEncoder();

/** A metav1.Status failure body. */
export function statusBody(code: number, reason: string, message: string, details?: unknown) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    details,
    code,
  };
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Any thrown value as a Status response (ApiStatusError keeps its code). */
export function errorResponse(e: unknown): Response {
  if (e instanceof ApiStatusError) {
    return json(statusBody(e.code, e.reason, e.message, e.details), e.code);
  }
  if (e instanceof SyntaxError) return json(statusBody(400, "BadRequest", e.message), 400);
  const msg = e instanceof Error ? e.message : String(e);
  return json(statusBody(500, "InternalError", msg), 500);
}

/** Discovery documents: /version, /api, /apis, /api/v1, /apis/{group}/{version}. */
export function discovery(resources: readonly ResourceDef[], pathname: string): unknown {
  const segs = pathname.split("/").filter((s) => s !== "");
  if (segs[0] === "version") return { major: "1", minor: "31", gitVersion: "v1.31.0-hostgate" };
  if (segs.length === 1 && segs[0] === "api") return { kind: "APIVersions", versions: ["v1"] };
  if (segs.length === 1) {
    const groups = [...new Set(resources.filter((d) => d.group).map((d) => d.group))];
    return {
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groups.map((name) => {
        const versions = [
          ...new Set(resources.filter((d) => d.group === name).map((d) => d.version)),
        ].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
        return { name, versions, preferredVersion: versions[0] };
      }),
    };
  }
  const gv = segs[0] === "api" ? segs[1]! : `${segs[1]}/${segs[2]}`;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: gv,
    resources: resources.filter((d) => apiVersionOf(d) === gv).flatMap((d) => [
      {
        name: d.resource,
        singularName: d.kind.toLowerCase(),
        namespaced: d.namespaced,
        kind: d.kind,
        verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
      },
      ...(d.status
        ? [{ name: `${d.resource}/status`, namespaced: d.namespaced, kind: d.kind, verbs: [] }]
        : []),
    ]),
  };
}

/** An open watch stream, as the server tracks it. */
export interface WatchHandle {
  /** Ends the stream cleanly (the client sees EOF). */
  close(): void;
}

/** Inputs of `openWatch`. */
export interface WatchRequest {
  def: ResourceDef;
  store: ObjectStore;
  filter: ObjectFilter;
  query: URLSearchParams;
  bookmarkIntervalMs: number;
  maxWatchSeconds: number;
  /** Called with the handle while the stream is open, and with `undefined`-close on end. */
  track: { add(w: WatchHandle): void; delete(w: WatchHandle): void };
  /** Called when the watch is refused with 410 Gone. */
  onExpired: () => void;
  /** Serve sendInitialEvents (else 422, as a server without the WatchList feature). */
  watchList: boolean;
}

/** Starts a watch stream response. */
export function openWatch(r: WatchRequest): Response {
  const { def, store } = r;
  const matches = compileFilter(r.filter);
  const rvParam = r.query.get("resourceVersion") ?? "";
  const bookmarks = r.query.get("allowWatchBookmarks") === "true";
  const initialEvents = r.query.get("sendInitialEvents") === "true";
  if (initialEvents) {
    if (!r.watchList) {
      throw new ApiStatusError(
        422,
        "Invalid",
        "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the " +
          "WatchList feature gate is enabled",
      );
    }
    if (r.query.get("resourceVersionMatch") !== "NotOlderThan" || !bookmarks) {
      throw new ApiStatusError(
        422,
        "Invalid",
        "sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true",
      );
    }
  }
  const asked = Number(r.query.get("timeoutSeconds") ?? r.maxWatchSeconds) || r.maxWatchSeconds;
  const timeout = Math.min(asked, r.maxWatchSeconds);
  let handle: WatchHandle | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      let lastRv = store.resourceVersion;
      const send = (type: string, object: unknown) => {
        if (!closed) controller.enqueue(enc.encode(JSON.stringify({ type, object }) + "\n"));
      };
      /** An event of a stored object, its JSON text cached by the store. */
      const sendStored = (type: string, object: KubeObject) => {
        if (!closed) {
          controller.enqueue(enc.encode(`{"type":"${type}","object":${store.jsonOf(object)}}\n`));
        }
      };
      const bookmark = () =>
        send("BOOKMARK", {
          kind: def.kind,
          apiVersion: apiVersionOf(def),
          metadata: { resourceVersion: String(lastRv) },
        });
      const onEvent = (ev: StoreEvent) => {
        if (ev.def !== def) return;
        lastRv = ev.rv;
        const now = matches(ev.object);
        const before = ev.type === "MODIFIED" && ev.prev !== undefined && matches(ev.prev);
        if (ev.type !== "MODIFIED") {
          if (now) sendStored(ev.type, ev.object);
        } else if (now && before) sendStored("MODIFIED", ev.object);
        else if (now) sendStored("ADDED", ev.object);
        else if (before) sendStored("DELETED", ev.object);
      };
      let unsubscribe = () => {};
      const timers: ReturnType<typeof setTimeout>[] = [];
      const close = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        timers.forEach((t) => clearTimeout(t));
        r.track.delete(w);
        try {
          controller.close();
        } catch { /* already cancelled by the client */ }
      };
      const w: WatchHandle = { close };
      handle = w;
      r.track.add(w);
      if (initialEvents) {
        // Watch-list: the state as ADDED events, then the bookmark that ends them.
        for (const o of store.scan(def, matches)) sendStored("ADDED", o);
        send("BOOKMARK", {
          kind: def.kind,
          apiVersion: apiVersionOf(def),
          metadata: {
            resourceVersion: String(store.resourceVersion),
            annotations: { "k8s.io/initial-events-end": "true" },
          },
        });
      } else if (rvParam === "" || rvParam === "0") {
        for (const o of store.scan(def, matches)) sendStored("ADDED", o);
      } else {
        const rv = Number(rvParam);
        const events = Number.isFinite(rv) ? store.eventsSince(rv) : undefined;
        if (!events) {
          r.onExpired();
          const msg = `too old resource version: ${rvParam} (${store.compactedRevision})`;
          send("ERROR", statusBody(410, "Expired", msg));
          close();
          return;
        }
        events.forEach(onEvent);
      }
      lastRv = store.resourceVersion;
      unsubscribe = store.subscribe(onEvent);
      timers.push(setTimeout(() => {
        if (bookmarks) bookmark();
        close();
      }, timeout * 1000));
      if (bookmarks) timers.push(setInterval(bookmark, r.bookmarkIntervalMs));
    },
    cancel() {
      handle?.close();
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
}

/** The resources every server serves unless `resources` replaces them. */
export const DEFAULT_RESOURCES: readonly ResourceDef[] = [
  { group: "", version: "v1", resource: "nodes", kind: "Node", namespaced: false, status: true },
  { group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false },
  { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true },
  { group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true, status: true },
  {
    group: "hostgate.io",
    version: "v1alpha1",
    resource: "ippools",
    kind: "IPPool",
    namespaced: false,
    status: true,
  },
  {
    group: "hostgate.io",
    version: "v1alpha1",
    resource: "ipallocations",
    kind: "IPAllocation",
    namespaced: false,
  },
];

/** One request as seen by the server, in RBAC terms. */
export interface RequestRecord {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "discovery";
  /** "" for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** HTTP status answered (200 for a watch that started). */
  code: number;
}

/** A request path resolved to a resource. */
export interface Route {
  def: ResourceDef;
  namespace: string;
  name?: string;
  subresource?: string;
}

/** The Status reason of an injected failure code. */
export function reasonOf(code: number): string {
  const reasons: Record<number, string> = {
    401: "Unauthorized",
    403: "Forbidden",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
  };
  return reasons[code] ?? "ServiceUnavailable";
}

/** Resolves an API path to a served resource (or a discovery document). */
export function routeOf(resources: readonly ResourceDef[], url: URL): Route | "discovery" {
  const segs = url.pathname.split("/").filter((s) => s !== "");
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api") {
    if (segs.length <= 2) return "discovery";
    group = "";
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === "apis") {
    if (segs.length <= 3) return "discovery";
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else if (segs[0] === "version") {
    return "discovery";
  } else throw new ApiStatusError(404, "NotFound", `the server could not find ${url.pathname}`);
  const find = (resource: string) =>
    resources.find((d) => d.group === group && d.version === version && d.resource === resource);
  let namespace = "";
  if (rest[0] === "namespaces" && rest.length >= 3) {
    const def = find(rest[2]!);
    if (def?.namespaced) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
  }
  const def = find(rest[0] ?? "");
  if (!def || rest.length > 3) {
    throw new ApiStatusError(404, "NotFound", `the server could not find ${url.pathname}`);
  }
  return { def, namespace, name: rest[1], subresource: rest[2] };
}
