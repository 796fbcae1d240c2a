/**
 * A list/watch that keeps only a projection of each object. Objects are
 * projected as they are decoded (a LIST item as soon as its bytes arrive, see
 * list_page.ts; a watch event at a time) and the raw object is dropped at
 * once: a cache of 20,000 kubelet Nodes is 20,000 small records, never
 * 200 MB of managedFields and image digests. Generic over the projection, so Nodes, the allocation ConfigMap,
 * IPAllocations or NetworkPolicies can all use it.
 *
 * - Initial state and relists: paginated LIST (limit/continue, a continue
 *   token answered 410 restarts the list) or, with `watchList`, the
 *   streaming watch-list (sendInitialEvents, ended by the bookmark with the
 *   `k8s.io/initial-events-end` annotation); a server that refuses
 *   watch-list (400/403/422) is listed page by page instead.
 * - A relist replaces the state only when it is complete: a failed or
 *   interrupted one leaves the last good state in place (a fault never reads
 *   as "the cluster is empty").
 * - A change is reported only when the projection changed: an update of a
 *   field nobody reads costs a parse, a compare and a resourceVersion.
 * - Failures (refused, 5xx, broken stream) mark it disconnected and retry
 *   with jittered, capped exponential backoff; 410 Gone relists at once.
 *   `retryNow` cuts a backoff short (the owner's probe saw the server back).
 *   At most one retry line per 10 s per kind of error (log_limiter.ts).
 * @module
 */

import type { Clock } from "../../system/clock.ts";
import { byteLines } from "./ndjson.ts";
import { ListPageDecoder, readListPage } from "./list_page.ts";
import {
  type CompiledSelector,
  compileSelector,
  decodePruned,
  DEFAULT_LIMITS,
  MAX_OBJECT_BYTES,
  mergeSelectors,
  type PruneLimits,
  type Selector,
} from "./prune.ts";
import { ApiError, type ApiTransport } from "./transport.ts";
import { errorKind, LogLimiter } from "../log_limiter.ts";

/** Retry timing after a failed list or watch. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** The part of any object the list/watch itself reads. */
export interface RawObject {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: { [key: string]: string };
  };
  [key: string]: unknown;
}

/** One change of the projected state. */
export interface Change<P> {
  type: "add" | "update" | "delete";
  /** "name", or "namespace/name" for namespaced objects. */
  key: string;
  /** The projection before (update, delete). */
  prev?: P;
  /** The projection after (add, update). */
  next?: P;
}

/** Options of `ProjectedListWatch`. */
export interface ProjectedListWatchOptions<P> {
  transport: ApiTransport;
  /** Collection path, e.g. "/api/v1/nodes". */
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
  /**
   * The parts of each object `project` reads; the rest is skipped while
   * decoding and never built (default: the whole object).
   */
  select?: Selector;
  /**
   * A selected value longer than this (bytes of JSON) is left out as if
   * absent (default: the object cap, 4 MiB). Nodes use the datastore's entry
   * cap, so a 12 MB annotation is never decoded.
   */
  maxValueBytes?: number;
  /** Keeps only what the caller reads (from the selected parts). */
  project: (obj: RawObject) => P;
  /** True when two projections are equal (then no change is reported). */
  same: (a: P, b: P) => boolean;
  /** LIST page size (default 250). */
  pageSize?: number;
  /** Use the streaming watch-list for the initial state and relists (default false). */
  watchList?: boolean;
  backoff: Backoff;
  clock: Clock;
  /** Jitter source in [0, 1). */
  random: () => number;
  /** Called with the changes of one event or one completed relist (never empty). */
  onChanges: (changes: readonly Change<P>[]) => void;
  /** Called when the connection state changes (connected, or failed with an error text). */
  onState: (connected: boolean, error?: string) => void;
  log: (msg: string) => void;
  /**
   * Rate limit of the retry lines, shared by the list/watches of one
   * datastore so one outage is one line per 10 s per kind of error, not one
   * per collection (default: a limiter of this list/watch's own).
   */
  limiter?: LogLimiter;
}

/** Counters, for metrics and tests. */
export interface ListWatchStats {
  /** Completed relists (pages or watch-list). */
  relists: number;
  /** LIST pages read. */
  pages: number;
  /** 410 Gone answers (expired watch or continue token). */
  expired: number;
  /** Watch events whose projection was unchanged (no change reported). */
  unchanged: number;
}

const INITIAL_EVENTS_END = "k8s.io/initial-events-end";

/** What the list/watch itself reads of every object (and of a bookmark). */
const OWN_SELECTOR: Selector = {
  metadata: {
    name: true,
    namespace: true,
    resourceVersion: true,
    annotations: { [INITIAL_EVENTS_END]: true },
  },
};

interface WatchEvent {
  type?: string;
  object?: RawObject & { code?: number; reason?: string; message?: string };
}

/** Why a watch-list was refused: the server does not support it, list instead. */
function refusesWatchList(e: unknown): boolean {
  return e instanceof ApiError && [400, 403, 422].includes(e.status);
}

/** A text for logs and health: message and, for API errors, the status. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (HTTP ${err.status})`;
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    return `${err.message.split("\n")[0]}${why}`;
  }
  return String(err);
}

/** Key of an object: name, or namespace/name. */
export function keyOf(obj: RawObject): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ""}` : m.name ?? "";
}

/** A projected, self-healing list/watch of one collection. */
export class ProjectedListWatch<P> {
  readonly #o: ProjectedListWatchOptions<P>;
  #items = new Map<string, P>();
  #rv: string | undefined;
  #synced = false;
  #closed = false;
  #failures = 0;
  #noWatchList = false;
  #lastContact: number | undefined;
  /** Ends the backoff wait in progress (set only while one is). */
  #wake: AbortController | undefined;
  #running: Promise<void> | undefined;
  readonly #stop = new AbortController();
  readonly #streams = new Set<AbortController>();
  #firstOutcome: Promise<void>;
  #settleFirst: () => void = () => {};
  readonly stats: ListWatchStats = { relists: 0, pages: 0, expired: 0, unchanged: 0 };
  readonly #itemSelector: CompiledSelector;
  readonly #eventSelector: CompiledSelector;
  readonly #limits: PruneLimits;
  /** Retry lines: at most one per 10 s per kind of error (the server away fails every retry). */
  readonly #limited: LogLimiter;

  constructor(opts: ProjectedListWatchOptions<P>) {
    this.#o = opts;
    this.#limited = opts.limiter ?? new LogLimiter({ clock: opts.clock, log: opts.log });
    const item = mergeSelectors(opts.select ?? true, OWN_SELECTOR);
    this.#itemSelector = compileSelector(item);
    // ERROR events carry a Status: its code, reason and message.
    const status: Selector = { code: true, reason: true, message: true };
    this.#eventSelector = compileSelector({ type: true, object: mergeSelectors(item, status) });
    this.#limits = { ...DEFAULT_LIMITS, maxValueBytes: opts.maxValueBytes ?? MAX_OBJECT_BYTES };
    this.#firstOutcome = new Promise((resolve) => this.#settleFirst = resolve);
  }

  /** True once a relist has completed (the state is a full snapshot). */
  get synced(): boolean {
    return this.#synced;
  }

  /** The resourceVersion the state is at (undefined before the first list). */
  get resourceVersion(): string | undefined {
    return this.#rv;
  }

  /** Monotonic ms of the last data from the server (a page, an event, a bookmark). */
  get lastContactMs(): number | undefined {
    return this.#lastContact;
  }

  /** True while it waits out a backoff after a failure. */
  get backingOff(): boolean {
    return this.#wake !== undefined;
  }

  /**
   * Ends the backoff wait in progress now (the server answered a probe), so
   * recovery does not wait for a backoff of up to `maxMs`. No-op otherwise.
   */
  retryNow(): void {
    this.#wake?.abort();
  }

  /** Number of objects held. */
  get size(): number {
    return this.#items.size;
  }

  get(key: string): P | undefined {
    return this.#items.get(key);
  }

  values(): IterableIterator<P> {
    return this.#items.values();
  }

  entries(): IterableIterator<[string, P]> {
    return this.#items.entries();
  }

  /**
   * Starts; resolves once the first list and watch are established, or on the
   * first failure (never hangs on an outage: retries go on in the background).
   */
  async start(): Promise<void> {
    this.#running ??= this.#run();
    await this.#firstOutcome;
  }

  /** Stops the watch and the retry timer and waits for in-flight requests. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    for (const c of this.#streams) c.abort();
    await this.#running;
    this.#settleFirst();
  }

  /**
   * Lists the collection once, page by page, without touching the state:
   * for callers that need a one-off snapshot before the watch has synced.
   */
  async listOnce(): Promise<Map<string, P>> {
    return (await this.#listPages()).items;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      try {
        if (this.#rv === undefined && this.#o.watchList && !this.#noWatchList) {
          await this.#watch(true);
        } else {
          if (this.#rv === undefined) await this.#relist();
          await this.#watch(false);
        }
      } catch (e) {
        if (this.#closed) break;
        if (e instanceof ApiError && e.status === 410) {
          // History compacted: relist (the state stays until the relist completes).
          this.stats.expired++;
          this.#rv = undefined;
          continue;
        }
        if (this.#rv === undefined && this.#o.watchList && refusesWatchList(e)) {
          this.#noWatchList = true;
          this.#o.log(`kubernetes: ${this.#o.path}: no watch-list (${errorText(e)}); paging`);
          continue;
        }
        await this.#failed(e);
      }
    }
  }

  #query(extra: Record<string, string>): URLSearchParams {
    const q = new URLSearchParams(extra);
    if (this.#o.fieldSelector) q.set("fieldSelector", this.#o.fieldSelector);
    if (this.#o.labelSelector) q.set("labelSelector", this.#o.labelSelector);
    return q;
  }

  /** GET with an abortable stream that close() can cut. */
  async #open(q: URLSearchParams): Promise<{ res: Response; ctl: AbortController }> {
    const ctl = new AbortController();
    this.#streams.add(ctl);
    try {
      const res = await this.#o.transport.get(this.#o.path, q, ctl.signal);
      return { res, ctl };
    } catch (e) {
      this.#streams.delete(ctl);
      throw e;
    }
  }

  async #listPages(): Promise<{ items: Map<string, P>; rv: string }> {
    const limit = String(this.#o.pageSize ?? 250);
    let items = new Map<string, P>();
    let cont: string | undefined;
    let restarts = 0;
    for (;;) {
      const q = this.#query(cont ? { limit, continue: cont } : { limit });
      // Each item is projected as soon as it has arrived; the page is never held whole.
      const decoder = new ListPageDecoder({
        item: this.#itemSelector,
        limits: this.#limits,
        onItem: (obj) => items.set(keyOf(obj as RawObject), this.#o.project(obj as RawObject)),
      });
      let page: { resourceVersion: string; continue: string };
      try {
        const { res, ctl } = await this.#open(q);
        try {
          page = await readListPage(res, decoder);
        } finally {
          this.#streams.delete(ctl);
        }
      } catch (e) {
        // An expired continue token: start the list over (bounded, then back off).
        if (e instanceof ApiError && e.status === 410 && cont && restarts < 3) {
          this.stats.expired++;
          restarts++;
          items = new Map();
          cont = undefined;
          continue;
        }
        throw e;
      }
      this.stats.pages++;
      this.#lastContact = this.#o.clock.monotonic();
      cont = page.continue || undefined;
      if (!cont) return { items, rv: page.resourceVersion };
    }
  }

  async #relist(): Promise<void> {
    const { items, rv } = await this.#listPages();
    this.#replace(items, rv);
  }

  /** Takes a complete snapshot; reports what differs from the state it replaces. */
  #replace(fresh: Map<string, P>, rv: string): void {
    const changes: Change<P>[] = [];
    for (const [key, prev] of this.#items) {
      if (!fresh.has(key)) changes.push({ type: "delete", key, prev });
    }
    for (const [key, next] of fresh) {
      const prev = this.#items.get(key);
      if (prev === undefined) changes.push({ type: "add", key, next });
      else if (!this.#o.same(prev, next)) changes.push({ type: "update", key, prev, next });
      else fresh.set(key, prev); // keep the old record, let the new one go
    }
    this.#items = fresh;
    this.#rv = rv;
    this.#synced = true;
    this.stats.relists++;
    if (changes.length > 0) this.#o.onChanges(changes);
  }

  /** Applies one watch event to the state (or to `initial` while a watch-list fills it). */
  #apply(type: string, obj: RawObject, initial: Map<string, P> | undefined): void {
    const key = keyOf(obj);
    if (initial) {
      if (type === "DELETED") initial.delete(key);
      else initial.set(key, this.#o.project(obj));
      return;
    }
    const prev = this.#items.get(key);
    if (type === "DELETED") {
      if (prev === undefined) return;
      this.#items.delete(key);
      this.#o.onChanges([{ type: "delete", key, prev }]);
      return;
    }
    const next = this.#o.project(obj);
    if (prev !== undefined && this.#o.same(prev, next)) {
      this.stats.unchanged++;
      return;
    }
    this.#items.set(key, next);
    this.#o.onChanges([{ type: prev === undefined ? "add" : "update", key, prev, next }]);
  }

  /**
   * Watches from the state's resourceVersion until the stream ends; with
   * `list`, a watch-list whose initial events replace the state first.
   */
  async #watch(list: boolean): Promise<void> {
    const timeout = String(Math.round(300 + this.#o.random() * 300));
    const q = this.#query(
      list
        ? {
          watch: "1",
          sendInitialEvents: "true",
          allowWatchBookmarks: "true",
          resourceVersionMatch: "NotOlderThan",
          resourceVersion: "",
          timeoutSeconds: timeout,
        }
        : {
          watch: "1",
          allowWatchBookmarks: "true",
          resourceVersion: this.#rv ?? "",
          timeoutSeconds: timeout,
        },
    );
    const { res, ctl } = await this.#open(q);
    let initial: Map<string, P> | undefined = list ? new Map() : undefined;
    try {
      if (!list) this.#ok();
      for await (const line of byteLines(res.body!, ctl.signal, MAX_OBJECT_BYTES)) {
        const ev = (decodePruned(line, this.#eventSelector, this.#limits) ?? {}) as WatchEvent;
        this.#lastContact = this.#o.clock.monotonic();
        const obj = ev.object ?? {};
        if (ev.type === "ERROR") {
          throw new ApiError(obj.code ?? 500, obj.reason ?? "", `${obj.message ?? "watch error"}`);
        }
        const rv = obj.metadata?.resourceVersion;
        if (ev.type === "BOOKMARK") {
          if (initial && obj.metadata?.annotations?.[INITIAL_EVENTS_END] === "true") {
            this.#replace(initial, rv ?? "");
            initial = undefined;
            this.#ok();
          } else if (rv && !initial) this.#rv = rv;
          continue;
        }
        if (ev.type !== "ADDED" && ev.type !== "MODIFIED" && ev.type !== "DELETED") continue;
        this.#apply(ev.type, obj, initial);
        if (rv && !initial) this.#rv = rv;
      }
      if (initial) {
        throw new Error("Cannot list by watch: the stream ended before its initial events");
      }
    } finally {
      this.#streams.delete(ctl);
      ctl.abort();
    }
  }

  #ok(): void {
    if (this.#failures > 0 && this.#limited.used) {
      this.#limited.line("connected", `kubernetes: ${this.#o.path}: connected again`);
    }
    this.#failures = 0;
    this.#o.onState(true);
    this.#settleFirst();
  }

  async #failed(err: unknown): Promise<void> {
    const text = errorText(err);
    this.#o.onState(false, text);
    this.#settleFirst();
    const { initialMs, maxMs } = this.#o.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.#failures, 20));
    const delay = Math.round(ceiling / 2 + (this.#o.random() * ceiling) / 2);
    this.#failures++;
    this.#limited.line(
      errorKind(text),
      `kubernetes: ${this.#o.path}: ${text}; retrying in ${delay} ms`,
    );
    const wake = new AbortController();
    this.#wake = wake;
    try {
      await this.#o.clock.sleep(delay, AbortSignal.any([this.#stop.signal, wake.signal]));
    } finally {
      this.#wake = undefined;
    }
  }
}
