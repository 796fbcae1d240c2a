/**
 * A stateful in-memory Kubernetes API for unit tests of the IPPool backend:
 * IPPools, IPAllocations and Pods with the write semantics the allocator
 * relies on (create 409 AlreadyExists, update 409 Conflict on a stale
 * resourceVersion, delete preconditions), label-selector lists, and fault
 * injection (an error status, a dropped connection, a hook run before a
 * request is served, to interleave a "concurrent" writer). The root-only
 * tests run the same code against tests/helpers/apiserver.ts over HTTP.
 * @module
 */
import type { HttpTransport } from "./client.ts";

type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; resourceVersion?: string };
};

/** One request as the fake saw it. */
export interface FakeRequest {
  method: string;
  /** "ippools", "ipallocations", "pods". */
  resource: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  limit?: string;
  /** The decoded request body, if any. */
  body?: unknown;
  /** HTTP status answered; 0 when the connection was dropped. */
  status: number;
}

/** A fault: answer `status` (0 = drop the connection) to the next matching requests. */
interface Fault {
  remaining: number;
  status: number;
  match?: (r: FakeRequest) => boolean;
}

function statusBody(code: number, reason: string, message: string): Response {
  return new Response(
    JSON.stringify({ kind: "Status", status: "Failure", code, reason, message }),
    { status: code, headers: { "content-type": "application/json" } },
  );
}

function ok(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function matches(labels: Record<string, string>, sel: string | undefined): boolean {
  if (!sel) return true;
  return sel.split(",").every((term) => {
    if (term.startsWith("!")) return !(term.slice(1) in labels);
    const [k, v] = term.split("=");
    return labels[k!] === v;
  });
}

/** The fake API; `transport` is what the client is given. */
export class FakeKube {
  /** Every request, in order. */
  readonly requests: FakeRequest[] = [];
  #rv = 0;
  #objects = new Map<string, Obj>();
  #faults: Fault[] = [];
  /** Runs before a request is served (after faults): lets a test act "concurrently". */
  beforeServe?: (r: FakeRequest) => void;

  /** The transport to hand to a KubeClient. */
  readonly transport: HttpTransport = (req) => this.#handle(req);

  #key(resource: string, name: string, namespace = ""): string {
    return `${resource}/${namespace}/${name}`;
  }

  /** Stores an object as given (a new resourceVersion), replacing any. */
  put(resource: string, obj: Record<string, unknown>): void {
    const o = structuredClone(obj) as Obj;
    o.metadata.resourceVersion = String(++this.#rv);
    const ns = o.metadata.namespace as string | undefined;
    this.#objects.set(this.#key(resource, o.metadata.name, ns), o);
  }

  /** Removes an object; false when absent. */
  remove(resource: string, name: string, namespace?: string): boolean {
    return this.#objects.delete(this.#key(resource, name, namespace));
  }

  /** A copy of an object, or undefined. */
  get(resource: string, name: string, namespace?: string): Obj | undefined {
    const o = this.#objects.get(this.#key(resource, name, namespace));
    return o ? structuredClone(o) : undefined;
  }

  /** Copies of every object of a resource, sorted by name. */
  list(resource: string): Obj[] {
    return [...this.#objects.entries()].filter(([k]) => k.startsWith(`${resource}/`))
      .map(([, o]) => structuredClone(o))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  }

  /** Answers the next `n` matching requests with `status` (0: drop the connection). */
  failNext(n: number, status: number, match?: (r: FakeRequest) => boolean): void {
    this.#faults.push({ remaining: n, status, match });
  }

  /** Requests that changed state (create, update, delete). */
  get writes(): FakeRequest[] {
    return this.requests.filter((r) => ["POST", "PUT", "DELETE"].includes(r.method));
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
    // /api/v1/... or /apis/<group>/<version>/...
    const rest = parts[0] === "api" ? parts.slice(2) : parts.slice(3);
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1];
      rest.splice(0, 2);
    }
    const rec: FakeRequest = {
      method: req.method,
      resource: rest[0] ?? "",
      name: rest[1],
      namespace,
      labelSelector: url.searchParams.get("labelSelector") ?? undefined,
      limit: url.searchParams.get("limit") ?? undefined,
      status: 0,
    };
    this.requests.push(rec);
    const text = await req.text();
    if (text) rec.body = JSON.parse(text);
    const fault = this.#faults.find((f) => f.remaining > 0 && (!f.match || f.match(rec)));
    if (fault) {
      fault.remaining--;
      this.#faults = this.#faults.filter((f) => f.remaining > 0);
      if (fault.status === 0) throw new TypeError("error sending request: connection refused");
      rec.status = fault.status;
      return statusBody(fault.status, "ServiceUnavailable", "injected failure");
    }
    this.beforeServe?.(rec);
    const res = this.#serve(rec, text);
    rec.status = res.status;
    return res;
  }

  #serve(r: FakeRequest, text: string): Response {
    const key = r.name !== undefined ? this.#key(r.resource, r.name, r.namespace) : "";
    const cur = this.#objects.get(key);
    const notFound = () => statusBody(404, "NotFound", `${r.resource} "${r.name}" not found`);
    switch (r.method) {
      case "GET": {
        if (r.name !== undefined) return cur ? ok(cur) : notFound();
        const limit = Number(r.limit ?? 0);
        const all = this.list(r.resource).filter((o) =>
          matches((o.metadata.labels ?? {}) as Record<string, string>, r.labelSelector)
        );
        const items = limit > 0 ? all.slice(0, limit) : all;
        return ok({ kind: "List", metadata: { resourceVersion: String(this.#rv) }, items });
      }
      case "POST": {
        const o = JSON.parse(text) as Obj;
        const k = this.#key(r.resource, o.metadata.name, r.namespace);
        if (this.#objects.has(k)) {
          return statusBody(409, "AlreadyExists", `${r.resource} "${o.metadata.name}" exists`);
        }
        o.metadata.resourceVersion = String(++this.#rv);
        this.#objects.set(k, o);
        return ok(o, 201);
      }
      case "PUT": {
        if (!cur) return notFound();
        const o = JSON.parse(text) as Obj;
        if (o.metadata.resourceVersion !== cur.metadata.resourceVersion) {
          return statusBody(409, "Conflict", "the object has been modified");
        }
        o.metadata.resourceVersion = String(++this.#rv);
        this.#objects.set(key, o);
        return ok(o);
      }
      case "DELETE": {
        if (!cur) return notFound();
        const want = text
          ? (JSON.parse(text) as { preconditions?: { resourceVersion?: string } })
            .preconditions?.resourceVersion
          : undefined;
        if (want !== undefined && want !== cur.metadata.resourceVersion) {
          return statusBody(409, "Conflict", "Precondition failed");
        }
        this.#objects.delete(key);
        return ok(cur);
      }
      default:
        return statusBody(405, "MethodNotAllowed", r.method);
    }
  }
}
