/**
 * State shared by the fake netlink and its handles: namespaces keyed by path,
 * the call log, queued faults and route listeners. Internal to the fake.
 * @module
 */

import { Errno, kernelError } from "./errno.ts";
import type {
  Address,
  FdbEntry,
  Link,
  Neighbor,
  Route,
  RouteEvent,
  RouteMonitorOptions,
} from "./types.ts";

/** One recorded call on the fake: method name, netns path ("" = own), arguments. */
export interface FakeCall {
  op: string;
  netns: string;
  args: unknown[];
}

/** A fault hook: return an error to make the call throw it (before any effect). */
export type FaultHook = (call: FakeCall) => Error | undefined;

/** A link of the fake plus where its veth peer lives. */
export interface FakeLink extends Link {
  peer?: { netns: string; index: number };
  /** Bridge MTU set with setMtu: the kernel stops auto-adjusting it to its ports. */
  mtuByUser?: boolean;
}

/** Everything one fake netns holds. Tests may read (and seed) it. */
export interface FakeNs {
  links: Map<number, FakeLink>;
  nextIndex: number;
  addrs: Address[];
  routes: Route[];
  neighbors: Neighbor[];
  fdb: FdbEntry[];
  /** Explicitly seeded or written sysctls, by slash key. */
  sysctls: Map<string, string>;
}

/** A deep copy of a fake netns, for assertions. */
export interface FakeSnapshot {
  links: FakeLink[];
  addrs: Address[];
  routes: Route[];
  neighbors: Neighbor[];
  fdb: FdbEntry[];
  sysctls: Record<string, string>;
}

function newNs(): FakeNs {
  const lo: FakeLink = {
    index: 1,
    name: "lo",
    kind: "",
    mtu: 65536,
    mac: "00:00:00:00:00:00",
    up: false,
    promisc: false,
  };
  return {
    links: new Map([[1, lo]]),
    nextIndex: 2,
    addrs: [],
    routes: [],
    neighbors: [],
    fdb: [],
    sysctls: new Map(),
  };
}

/** The fake kernel. */
export class FakeWorld {
  readonly namespaces = new Map<string, FakeNs>([["", newNs()]]);
  readonly calls: FakeCall[] = [];
  readonly #queued = new Map<string, Error[]>();
  readonly #hooks = new Set<FaultHook>();
  readonly #listeners = new Set<{ netns: string; opts: RouteMonitorOptions }>();
  #macSeq = 0;

  /** A fresh locally administered MAC (deterministic for stable tests). */
  nextMac(): string {
    const n = ++this.#macSeq;
    const hex = (v: number) => v.toString(16).padStart(2, "0");
    return `02:fa:00:${hex((n >> 16) & 0xff)}:${hex((n >> 8) & 0xff)}:${hex(n & 0xff)}`;
  }

  addNetns(path: string): void {
    if (!this.namespaces.has(path)) this.namespaces.set(path, newNs());
  }

  /** The netns at `path`, or NoSuchNetnsError as the real layer throws. */
  ns(path: string, action = `open netns ${path}`): FakeNs {
    const ns = this.namespaces.get(path);
    if (!ns) throw kernelError({ errno: Errno.ENOENT, action, subject: "netns" });
    return ns;
  }

  /** Logs a call, then throws a queued or hooked fault for it, if any. */
  call(op: string, netns: string, args: unknown[]): void {
    const call: FakeCall = { op, netns, args: structuredClone(args) };
    this.calls.push(call);
    const queue = this.#queued.get(op);
    const queued = queue?.shift();
    if (queued) throw queued;
    for (const hook of this.#hooks) {
      const err = hook(call);
      if (err) throw err;
    }
  }

  failNext(op: string, err: Error): void {
    const q = this.#queued.get(op) ?? [];
    q.push(err);
    this.#queued.set(op, q);
  }

  failWhen(hook: FaultHook): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  listen(netns: string, opts: RouteMonitorOptions): () => void {
    const entry = { netns, opts };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Tells monitors of `netns` about a route change, asynchronously like the kernel. */
  emit(netns: string, ev: RouteEvent): void {
    for (const l of this.#listeners) {
      if (l.netns !== netns || l.opts.signal.aborted) continue;
      const copy = structuredClone(ev);
      queueMicrotask(() => {
        if (!l.opts.signal.aborted) l.opts.onEvent(copy);
      });
    }
  }

  snapshot(path: string): FakeSnapshot {
    const ns = this.ns(path);
    return structuredClone({
      links: [...ns.links.values()],
      addrs: ns.addrs,
      routes: ns.routes,
      neighbors: ns.neighbors,
      fdb: ns.fdb,
      sysctls: Object.fromEntries(ns.sysctls),
    });
  }
}
