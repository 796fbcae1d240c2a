/**
 * The state behind the test list/watch server (tests/helpers/apiserver.ts):
 * objects keyed by (group/version, resource, namespace, name), one global
 * resourceVersion, a bounded event history for watch resumption (410 Gone
 * once an event is dropped), and the write semantics of the kube-apiserver
 * (409 AlreadyExists/Conflict, status subresource, delete preconditions).
 * No I/O here, so the HTTP layer stays thin.
 * @module
 */

import {
  ApiStatusError,
  apiVersionOf,
  jsonPatch,
  type KubeObject,
  mergePatch,
  type ResourceDef,
} from "./apiserver_semantics.ts";

/** One stored change, replayed to watches that resume from an older resourceVersion. */
export interface StoreEvent {
  rv: number;
  type: "ADDED" | "MODIFIED" | "DELETED";
  def: ResourceDef;
  object: KubeObject;
  /** The object before a MODIFIED, so selector watches can turn it into ADDED/DELETED. */
  prev?: KubeObject;
}

function invalidError(msg: string): ApiStatusError {
  return new ApiStatusError(422, "Invalid", msg);
}

/** Options of the store. */
export interface StoreOptions {
  /** Events retained for watch resumption; older resourceVersions get 410 Gone. */
  watchWindow: number;
}

/** The objects, the resourceVersion counter and the event history. */
export class ObjectStore {
  #rv = 0;
  #objects = new Map<string, { def: ResourceDef; obj: KubeObject }>();
  #history: StoreEvent[] = [];
  #compactedRv = 0;
  #uid = 0;
  #listeners = new Set<(ev: StoreEvent) => void>();
  /** The last sorted listing (valid while nothing changed). */
  #sorted: { def: ResourceDef; rv: number; keyed: [string, KubeObject][] } | undefined;
  /** JSON text of stored objects (never mutated once stored), so big LISTs serialize once. */
  #json = new WeakMap<KubeObject, string>();
  readonly #window: number;

  constructor(opts: StoreOptions) {
    this.#window = opts.watchWindow;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Watches resuming from a resourceVersion below this one get 410 Gone. */
  get compactedRevision(): number {
    return this.#compactedRv;
  }

  /** Drops the whole history, so every watch from an older resourceVersion gets 410. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  subscribe(fn: (ev: StoreEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Events after `rv` (exclusive), or undefined when they were compacted away. */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv < this.#compactedRv) return undefined;
    return this.#history.filter((e) => e.rv > rv);
  }

  #key(def: ResourceDef, ns: string, name: string): string {
    return `${apiVersionOf(def)}|${def.resource}|${def.namespaced ? ns : ""}|${name}`;
  }

  #notFound(def: ResourceDef, name: string): ApiStatusError {
    return new ApiStatusError(404, "NotFound", `${def.resource} "${name}" not found`, {
      name,
      group: def.group,
      kind: def.resource,
    });
  }

  #conflict(def: ResourceDef, name: string, why: string): ApiStatusError {
    return new ApiStatusError(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${def.resource}${
        def.group ? "." + def.group : ""
      } "${name}": ${why}`,
      { name, group: def.group, kind: def.resource },
    );
  }

  #commit(def: ResourceDef, type: StoreEvent["type"], obj: KubeObject, prev?: KubeObject): void {
    const ev: StoreEvent = { rv: this.#rv, type, def, object: obj, prev };
    this.#history.push(ev);
    while (this.#history.length > this.#window) {
      this.#compactedRv = this.#history.shift()!.rv;
    }
    for (const fn of this.#listeners) fn(ev);
  }

  /** A copy of one object. */
  get(def: ResourceDef, ns: string, name: string): KubeObject {
    const e = this.#objects.get(this.#key(def, ns, name));
    if (!e) throw this.#notFound(def, name);
    return structuredClone(e.obj);
  }

  /** Copies of the objects of one resource that pass the filter, sorted by namespace/name. */
  list(def: ResourceDef, filter: (o: KubeObject) => boolean = () => true): KubeObject[] {
    const out: KubeObject[] = [];
    for (const e of this.#objects.values()) {
      if (e.def === def && filter(e.obj)) out.push(structuredClone(e.obj));
    }
    const k = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    return out.sort((a, b) => k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0);
  }

  /**
   * One page of a LIST as the objects were at `rv` (a consistent snapshot,
   * rebuilt by undoing the retained history; default now), after the object
   * key `after`, at most `limit` (0: all), as JSON texts. Undefined when `rv`
   * is older than the retained history (the apiserver answers 410 Expired).
   */
  listPage(
    def: ResourceDef,
    filter: (o: KubeObject) => boolean,
    page: { rv?: number; after?: string; limit: number },
  ): { items: string[]; rv: number; last?: string; more: boolean } | undefined {
    const rv = page.rv ?? this.#rv;
    const keyed = this.#sortedAt(def, rv);
    if (!keyed) return undefined;
    const matching = keyed.filter(([, o]) => filter(o));
    let from = 0;
    if (page.after !== undefined) {
      // First key after `after` (binary search: pages of a 20,000-object LIST stay cheap).
      let lo = 0;
      let hi = matching.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (matching[mid]![0] <= page.after) lo = mid + 1;
        else hi = mid;
      }
      from = lo;
    }
    const rest = matching.length - from;
    const taken = matching.slice(from, page.limit > 0 ? from + page.limit : undefined);
    return {
      items: taken.map(([, o]) => this.jsonOf(o)),
      rv,
      last: taken.at(-1)?.[0],
      more: taken.length < rest,
    };
  }

  /** The objects of `def` at `rv`, sorted by namespace/name; the current ones are cached. */
  #sortedAt(def: ResourceDef, rv: number): [string, KubeObject][] | undefined {
    const cached = this.#sorted;
    if (cached && cached.def === def && cached.rv === rv && rv === this.#rv) return cached.keyed;
    const since = this.eventsSince(rv);
    if (!since) return undefined;
    const state = new Map<string, KubeObject>();
    for (const [k, e] of this.#objects) if (e.def === def) state.set(k, e.obj);
    for (let i = since.length - 1; i >= 0; i--) {
      const ev = since[i]!;
      if (ev.def !== def) continue;
      const m = ev.object.metadata;
      const k = this.#key(def, m.namespace ?? "", m.name!);
      if (ev.type === "ADDED") state.delete(k);
      else state.set(k, ev.prev!);
    }
    const sortKey = (o: KubeObject) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const keyed: [string, KubeObject][] = [...state.values()].map((o) => [sortKey(o), o]);
    keyed.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    if (rv === this.#rv) this.#sorted = { def, rv, keyed };
    return keyed;
  }

  /** The JSON text of a stored object (cached: stored objects are never changed in place). */
  jsonOf(obj: KubeObject): string {
    let text = this.#json.get(obj);
    if (text === undefined) this.#json.set(obj, text = JSON.stringify(obj));
    return text;
  }

  /** The stored objects of one resource that pass the filter (not copies: do not change them). */
  *scan(def: ResourceDef, filter: (o: KubeObject) => boolean = () => true): Generator<KubeObject> {
    for (const e of this.#objects.values()) if (e.def === def && filter(e.obj)) yield e.obj;
  }

  /** Creates; 409 AlreadyExists when the name is taken. */
  create(def: ResourceDef, ns: string, input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    obj.metadata ??= {};
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      meta.name = meta.generateName + (++this.#uid).toString(36).padStart(5, "0");
    }
    if (!meta.name) {
      throw invalidError("metadata.name: Required value: name or generateName is required");
    }
    const name = meta.name;
    const key = this.#key(def, ns, name);
    if (this.#objects.has(key)) {
      throw new ApiStatusError(
        409,
        "AlreadyExists",
        `${def.resource} "${name}" already exists`,
        { name, group: def.group, kind: def.resource },
      );
    }
    if (def.namespaced) meta.namespace = ns;
    else delete meta.namespace;
    obj.apiVersion = apiVersionOf(def);
    obj.kind = def.kind;
    meta.uid = crypto.randomUUID();
    meta.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    meta.generation = 1;
    meta.resourceVersion = String(++this.#rv);
    this.#objects.set(key, { def, obj });
    this.#commit(def, "ADDED", obj);
    return structuredClone(obj);
  }

  /**
   * Replaces an object. With `subresource: "status"` only the status is taken;
   * on the main resource of a type with a status subresource the old status
   * is kept. A stale metadata.resourceVersion gives 409 Conflict. `force`
   * (test controls only) skips both: the whole object is taken as given.
   */
  update(
    def: ResourceDef,
    ns: string,
    input: KubeObject,
    opts: { subresource?: string; name: string; force?: boolean },
  ): KubeObject {
    const key = this.#key(def, ns, opts.name);
    const cur = this.#objects.get(key);
    if (!cur) throw this.#notFound(def, opts.name);
    const wantRv = input.metadata?.resourceVersion;
    if (opts.force) {
      // Test control: no precondition.
    } else if (wantRv === undefined || wantRv === "") {
      if (!def.unconditionalUpdate) {
        throw invalidError(
          `${def.kind}.${def.group} "${opts.name}" is invalid: metadata.resourceVersion: ` +
            `Invalid value: 0x0: must be specified for an update`,
        );
      }
    } else if (wantRv !== cur.obj.metadata.resourceVersion) {
      throw this.#conflict(
        def,
        opts.name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    }
    if (input.metadata?.name !== undefined && input.metadata.name !== opts.name) {
      throw new ApiStatusError(400, "BadRequest", "the name of the object does not match the URL");
    }
    const prev = cur.obj;
    let next: KubeObject;
    if (opts.subresource === "status") {
      next = structuredClone(prev);
      if (input.status === undefined) delete next.status;
      else next.status = structuredClone(input.status);
    } else {
      next = structuredClone(input);
      if (def.status && !opts.force) {
        if (prev.status === undefined) delete next.status;
        else next.status = structuredClone(prev.status);
      }
      const keep = ["uid", "creationTimestamp", "generation", "namespace", "name"] as const;
      next.metadata = { ...next.metadata };
      for (const k of keep) {
        if (prev.metadata[k] === undefined) delete next.metadata[k];
        else (next.metadata as Record<string, unknown>)[k] = prev.metadata[k];
      }
      if (JSON.stringify(next.spec) !== JSON.stringify(prev.spec)) {
        next.metadata.generation = (prev.metadata.generation ?? 0) + 1;
      }
    }
    next.apiVersion = apiVersionOf(def);
    next.kind = def.kind;
    next.metadata.resourceVersion = String(++this.#rv);
    this.#objects.set(key, { def, obj: next });
    this.#commit(def, "MODIFIED", next, prev);
    return structuredClone(next);
  }

  /**
   * Patches: merge (and strategic merge, served as merge) or JSON patch. A
   * resourceVersion set by the patch acts as a precondition (409 when stale).
   */
  patch(
    def: ResourceDef,
    ns: string,
    opts: { name: string; subresource?: string; type: "merge" | "json"; patch: unknown },
  ): KubeObject {
    const cur = this.get(def, ns, opts.name);
    const patched =
      (opts.type === "json"
        ? jsonPatch(cur, opts.patch)
        : mergePatch(cur, opts.patch)) as KubeObject;
    if (patched === null || typeof patched !== "object") {
      throw invalidError("patch result not an object");
    }
    patched.metadata ??= {};
    const rv = patched.metadata.resourceVersion;
    if (rv !== undefined && rv !== cur.metadata.resourceVersion) {
      throw this.#conflict(
        def,
        opts.name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    }
    patched.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.update(def, ns, patched, { name: opts.name, subresource: opts.subresource });
  }

  /** Deletes; `preconditions` (resourceVersion, uid) give 409 Conflict when they do not hold. */
  delete(
    def: ResourceDef,
    ns: string,
    name: string,
    preconditions?: { resourceVersion?: string; uid?: string },
  ): KubeObject {
    const key = this.#key(def, ns, name);
    const cur = this.#objects.get(key);
    if (!cur) throw this.#notFound(def, name);
    const meta = cur.obj.metadata;
    if (
      preconditions?.resourceVersion !== undefined &&
      preconditions.resourceVersion !== meta.resourceVersion
    ) {
      throw this.#conflict(
        def,
        name,
        `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ` +
          `ResourceVersion in object meta: ${meta.resourceVersion}`,
      );
    }
    if (preconditions?.uid !== undefined && preconditions.uid !== meta.uid) {
      throw this.#conflict(
        def,
        name,
        `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${meta.uid}`,
      );
    }
    this.#objects.delete(key);
    const gone = structuredClone(cur.obj);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#commit(def, "DELETED", gone, cur.obj);
    return gone;
  }
}
