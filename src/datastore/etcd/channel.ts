/**
 * One gRPC channel per etcd endpoint for every etcd3 service client.
 *
 * etcd3 1.x makes one grpc-js client per service (KV, Watch, Lease, ...) and
 * each client makes its own channel; on every "recoverable" error (UNAVAILABLE,
 * DEADLINE_EXCEEDED, CANCELLED, INTERNAL) it closes all of them and makes new
 * ones on the next call, while the old ones finish their pending calls. When
 * etcd came back after an outage, or a frozen etcd let deadlines expire, the
 * KV, Watch and Lease loops each reset the services and each new channel
 * dialled its own connection: 5-12 TCP sockets to one etcd (issue 12 item 3).
 *
 * Here every service client of an endpoint gets the same channel (through
 * grpc-js's `channelFactoryOverride` client option), whose `close()` is a
 * no-op for them: etcd3's resets only drop client objects, the one connection
 * stays, and grpc-js reconnects it under our capped backoff (its default
 * backoff grows to 120 s, far over the recovery budget). `close()` here closes
 * the real channels.
 * @module
 */

import type { Etcd3, IOptions } from "etcd3";

type GrpcOptions = NonNullable<IOptions["grpcOptions"]>;

/** What this module needs of a grpc-js Channel. */
interface Channel {
  close(): void;
  getConnectivityState(tryToConnect: boolean): number;
  watchConnectivityState(
    currentState: number,
    deadline: Date | number,
    callback: (error?: Error) => void,
  ): void;
}

/** grpc-js connectivityState.READY and SHUTDOWN. */
const READY = 2;
const SHUTDOWN = 4;
type ChannelConstructor = new (target: string, credentials: unknown, options: object) => Channel;
type ChannelFactory = (target: string, credentials: unknown, options: object) => Channel;

/** The etcd3 1.x internals used here (checked at run time). */
interface PoolHost {
  getServiceClient(name: string): { getChannel(): Channel };
  resetAllServices(): void;
}

/** Channel options of the shared channels; reconnect backoff as the datastore's. */
export function sharedChannelOptions(backoff: { initialMs: number; maxMs: number }): GrpcOptions {
  return {
    "grpc.initial_reconnect_backoff_ms": backoff.initialMs,
    "grpc.max_reconnect_backoff_ms": backoff.maxMs,
    // The channels are ours alone: closing them closes their connections.
    "grpc.use_local_subchannel_pool": 1,
  } as GrpcOptions;
}

/** Shares one channel per endpoint among the service clients of one etcd3 client. */
export class SharedChannels {
  readonly #channels = new Map<string, Channel>();

  /**
   * Makes `client` (built with `grpcOptions: options`, an object only it
   * uses) take every later service client's channel from here.
   */
  static attach(client: Etcd3, options: GrpcOptions): SharedChannels {
    const hosts = (client as unknown as { pool?: { hosts?: unknown } }).pool?.hosts;
    if (!Array.isArray(hosts) || hosts.length === 0 || !hosts.every(isPoolHost)) {
      throw new Error("Cannot share an etcd channel: the etcd3 client has no hosts it can reset");
    }
    // grpc-js's channel class, from a client etcd3 makes (before any call, so it never dialled).
    const probe = hosts[0]!.getServiceClient("KV").getChannel();
    const Ctor = probe.constructor as ChannelConstructor;
    for (const h of hosts) h.resetAllServices(); // closes the probe channel, drops the client
    const shared = new SharedChannels();
    const factory: ChannelFactory = (target, credentials, opts) => {
      let ch = shared.#channels.get(target);
      if (!ch) {
        ch = new Ctor(target, credentials, opts);
        shared.#channels.set(target, ch);
      }
      return keptOpen(ch);
    };
    (options as Record<string, unknown>).channelFactoryOverride = factory;
    return shared;
  }

  /** How many channels exist (one per endpoint used so far). */
  get size(): number {
    return this.#channels.size;
  }

  /**
   * Resolves when a channel turns READY (a connection to etcd was just made)
   * or after `ms` or on `signal`, whichever comes first: a retry wait that ends as soon as
   * etcd is back. grpc-js keeps reconnecting a failed channel under the
   * capped backoff, so the retry need not wait out its own timer as well. A
   * channel READY already does not end the wait (its calls failed anyway).
   */
  untilReady(ms: number, signal?: AbortSignal): Promise<void> {
    const channels = [...this.#channels.values()];
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal?.addEventListener("abort", finish, { once: true });
      const deadline = Date.now() + ms;
      const watch = (ch: Channel) => {
        const state = ch.getConnectivityState(false);
        if (state === SHUTDOWN) return;
        ch.watchConnectivityState(state, deadline, (err) => {
          if (done || err) return;
          if (ch.getConnectivityState(false) === READY) finish();
          else watch(ch);
        });
      };
      channels.forEach(watch);
    });
  }

  /** Closes every channel, and so its connection. */
  close(): void {
    for (const ch of this.#channels.values()) ch.close();
    this.#channels.clear();
  }
}

function isPoolHost(h: unknown): h is PoolHost {
  const o = h as Partial<PoolHost> | null;
  return typeof o?.getServiceClient === "function" && typeof o.resetAllServices === "function";
}

/** `ch` with a `close()` that does nothing: a service client's close must not end the channel. */
function keptOpen(ch: Channel): Channel {
  return new Proxy(ch, {
    get(target, prop) {
      if (prop === "close") return () => {};
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
