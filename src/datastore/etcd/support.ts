/**
 * Small pieces of the etcd datastore kept apart from the class: the key
 * layout, the etcd3 client options (deadlines, fault handling) and a watch
 * backoff that records when its timer will fire, so `close()` can wait for
 * the client's own reconnect timer instead of leaking it.
 * @module
 */

import type { IOptions } from "etcd3";
import { type Clock, RealClock } from "../../system/clock.ts";

/** Each backoff delay is spread by up to this fraction either way, so agents do not retry in step. */
const JITTER = 0.2;

/** Key layout under a prefix (default "/hostgate/"). */
export interface EtcdKeys {
  prefix: string;
  /** `<prefix>nodes/`: node entries, leased. */
  nodes: string;
  /** `<prefix>subnets/`: subnet claims, value = owner node name, not leased. */
  subnets: string;
  node(name: string): string;
  subnet(cidr: string): string;
}

/** The keys of a prefix; the prefix always ends with "/". */
export function etcdKeys(prefix = "/hostgate/"): EtcdKeys {
  const p = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return {
    prefix: p,
    nodes: `${p}nodes/`,
    subnets: `${p}subnets/`,
    node: (name) => `${p}nodes/${name}`,
    subnet: (cidr) => `${p}subnets/${cidr}`,
  };
}

type FaultHandling = NonNullable<IOptions["faultHandling"]>;
type HostPolicy = ReturnType<NonNullable<FaultHandling["host"]>>;
type WatchBackoff = NonNullable<FaultHandling["watchBackoff"]>;
type WallClock = Pick<Clock, "now">;

/** When the client's pending watch reconnect timer fires (ms since epoch), shared by a chain. */
export interface BackoffTracker {
  until: number;
}

/** Capped exponential backoff with jitter; reading `duration` records its deadline. */
class TrackedBackoff {
  readonly #attempt: number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #tracker: BackoffTracker;
  readonly #clock: WallClock;
  constructor(
    attempt: number,
    initialMs: number,
    maxMs: number,
    tracker: BackoffTracker,
    clock: WallClock,
  ) {
    this.#attempt = attempt;
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#tracker = tracker;
    this.#clock = clock;
  }
  get duration(): number {
    const base = Math.min(this.#initialMs * 2 ** Math.max(0, this.#attempt - 1), this.#maxMs);
    const ms = Math.round(base * (1 - JITTER + Math.random() * 2 * JITTER));
    this.#tracker.until = Math.max(this.#tracker.until, this.#clock.now() + ms);
    return ms;
  }
  next(): TrackedBackoff {
    return new TrackedBackoff(
      this.#attempt + 1,
      this.#initialMs,
      this.#maxMs,
      this.#tracker,
      this.#clock,
    );
  }
}

/** Options of `clientOptions`. */
export interface ClientOptionsInput {
  endpoints: readonly string[];
  callTimeoutMs: number;
  backoff: { initialMs: number; maxMs: number };
  tracker: BackoffTracker;
  auth?: { username: string; password: string };
  /** Wall time of call deadlines and the backoff tracker (the real clock when omitted). */
  clock?: WallClock;
  /** gRPC channel options, kept by reference (`SharedChannels.attach` adds to them). */
  grpcOptions?: IOptions["grpcOptions"];
}

/**
 * etcd3 options. Unary calls get a deadline (a dead etcd fails fast instead
 * of hanging register()); streams (watch, keepalive) get none. The per-host
 * circuit breaker is replaced by a pass-through: with one endpoint it would
 * refuse every call for 5 s after etcd comes back; our own loops back off.
 */
export function clientOptions(input: ClientOptionsInput): IOptions {
  const passThrough = {
    execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T, signal?: AbortSignal) =>
      Promise.resolve().then(() => fn({ signal: signal ?? new AbortController().signal })),
  } as unknown as HostPolicy;
  const clock = input.clock ?? new RealClock();
  const opts: IOptions = {
    hosts: [...input.endpoints],
    defaultCallOptions: (ctx) =>
      ctx.isStream ? {} : { deadline: new Date(clock.now() + input.callTimeoutMs) },
    faultHandling: {
      host: () => passThrough,
      watchBackoff: new TrackedBackoff(
        0,
        input.backoff.initialMs,
        input.backoff.maxMs,
        input.tracker,
        clock,
      ) as unknown as WatchBackoff,
    },
  };
  if (input.grpcOptions) opts.grpcOptions = input.grpcOptions;
  if (input.auth) opts.auth = { ...input.auth };
  return opts;
}

/** Text of an unknown error, for health and logs. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
