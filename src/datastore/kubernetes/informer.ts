/**
 * A client-node ListWatch kept alive. client-node 1.x relists by itself on
 * 410 Gone, but on any other failure (connection refused, 5xx, 401) it only
 * calls its `error` callbacks and stops; and `stop()` can race a watch that is
 * still connecting, which would leave an open stream behind. This wrapper
 * restarts with jittered exponential backoff, reports connected/lastError for
 * readiness, and on close aborts every stream it ever opened and waits for
 * in-flight requests, so Deno's leak sanitizer stays quiet.
 * @module
 */

import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from "@kubernetes/client-node";
import type { Clock } from "../../system/clock.ts";

/** Retry timing after a failed list or watch. */
export interface Backoff {
  /** First delay (ms); doubled per consecutive failure. */
  initialMs: number;
  /** Upper bound of the delay (ms). */
  maxMs: number;
}

/** Options of `SupervisedInformer`. */
export interface SupervisedInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. "/api/v1/nodes". */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  backoff: Backoff;
  clock: Clock;
  /** Jitter source in [0, 1). */
  random: () => number;
  /**
   * Projects each object at ingest (list items and watch events alike), so
   * the cache holds only what the agent reads, not whole Pods.
   */
  transform?: (obj: T) => T;
  /** Called for every add, update and delete of an object. */
  onEvent: (type: "add" | "update" | "delete", obj: T) => void;
  /** Called when the connection state changes (connected, or failed with an error text). */
  onState: (connected: boolean, error?: string) => void;
  log: (msg: string) => void;
}

/** A Watch that remembers its streams so they can all be aborted at close. */
class TrackedWatch extends Watch {
  #controllers = new Set<AbortController>();
  #pending = new Set<Promise<unknown>>();
  #closed = false;
  readonly #onOpen: () => void;
  readonly #transform: ((o: unknown) => unknown) | undefined;

  constructor(kc: KubeConfig, onOpen: () => void, transform?: (o: unknown) => unknown) {
    super(kc);
    this.#onOpen = onOpen;
    this.#transform = transform;
  }

  override async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.#closed) {
      // Closed while ListWatch was listing: open nothing, leave it idle.
      const c = new AbortController();
      c.abort();
      return c;
    }
    let failed = false;
    let ctl: AbortController | undefined;
    const t = this.#transform;
    const cb = t
      ? (phase: string, apiObj: unknown, watchObj?: unknown) =>
        callback(phase, phase === "ERROR" || phase === "BOOKMARK" ? apiObj : t(apiObj), watchObj)
      : callback;
    const p = super.watch(path, query, cb, (err) => {
      if (err) failed = true;
      if (ctl) this.#controllers.delete(ctl);
      done(err);
    });
    this.#pending.add(p);
    try {
      ctl = await p;
      if (this.#closed) ctl.abort();
      else if (!failed) {
        this.#controllers.add(ctl);
        this.#onOpen();
      }
      return ctl;
    } finally {
      this.#pending.delete(p);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
    for (const c of this.#controllers) c.abort();
    this.#controllers.clear();
  }
}

function errorText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { statusCode?: number; code?: number | string; message?: string };
    const code = e.statusCode ?? e.code;
    const msg = (e.message ?? String(err)).split("\n")[0];
    return code !== undefined ? `${msg} (${code})` : msg ?? String(err);
  }
  return String(err);
}

/** A ListWatch with restart-on-failure, connection state and a leak-free close. */
export class SupervisedInformer<T extends KubernetesObject> {
  readonly #opts: SupervisedInformerOptions<T>;
  readonly #watch: TrackedWatch;
  readonly #lw: ListWatch<T>;
  #failures = 0;
  #retry: AbortController | undefined;
  #closed = false;
  #lists = new Set<Promise<unknown>>();
  #firstOutcome: Promise<void>;
  #settleFirst: () => void = () => {};
  #synced = false;

  constructor(opts: SupervisedInformerOptions<T>) {
    this.#opts = opts;
    this.#firstOutcome = new Promise((resolve) => this.#settleFirst = resolve);
    const transform = opts.transform;
    this.#watch = new TrackedWatch(
      opts.kubeConfig,
      () => {
        this.#ok();
        this.#settleFirst();
      },
      transform as ((o: unknown) => unknown) | undefined,
    );
    const list = () => {
      const p = opts.list().then((l) => {
        if (transform) l = { ...l, items: l.items.map(transform) };
        if (!this.#closed) {
          this.#synced = true;
          this.#ok();
        }
        return l;
      });
      this.#lists.add(p);
      p.finally(() => this.#lists.delete(p)).catch(() => {});
      return p;
    };
    this.#lw = new ListWatch<T>(opts.path, this.#watch, list, false, undefined, opts.fieldSelector);
    this.#lw.on("add", (o) => opts.onEvent("add", o));
    this.#lw.on("update", (o) => opts.onEvent("update", o));
    this.#lw.on("delete", (o) => opts.onEvent("delete", o));
    this.#lw.on("error", (err) => this.#failed(err));
  }

  /** True once a list has succeeded (the cache holds a full snapshot). */
  get synced(): boolean {
    return this.#synced;
  }

  /**
   * Starts; resolves once the first list and watch are established, or on the
   * first failure (never hangs on an outage: retries go on in the background).
   */
  async start(): Promise<void> {
    this.#lw.start().catch((err) => this.#failed(err));
    await this.#firstOutcome;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#lw.get(name, namespace);
  }

  list(): readonly T[] {
    return this.#lw.list();
  }

  #ok(): void {
    this.#failures = 0;
    this.#opts.onState(true);
  }

  #failed(err: unknown): void {
    if (this.#closed) return; // the AbortError of our own stop()
    const text = errorText(err);
    this.#opts.onState(false, text);
    this.#settleFirst();
    if (this.#retry !== undefined) return;
    const { initialMs, maxMs } = this.#opts.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.#failures, 20));
    const delay = Math.round(ceiling / 2 + (this.#opts.random() * ceiling) / 2);
    this.#failures++;
    this.#opts.log(`kubernetes: ${this.#opts.path}: ${text}; retrying in ${delay} ms`);
    const retry = this.#retry = new AbortController();
    this.#opts.clock.sleep(delay, retry.signal).then(() => {
      this.#retry = undefined;
      if (!this.#closed) this.#lw.start().catch((e) => this.#failed(e));
    });
  }

  /** Stops the watch and the retry timer and waits for in-flight requests. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#retry?.abort();
    await this.#lw.stop();
    await Promise.allSettled([...this.#lists]);
    await this.#watch.close();
    this.#settleFirst();
  }
}
