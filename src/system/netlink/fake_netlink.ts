/**
 * A stateful in-memory Netlink for unit tests: namespaces keyed by path,
 * links with indexes and veth peers across namespaces, addresses with their
 * prefix routes, routes, neighbours, FDB entries and sysctls, with the
 * kernel's error semantics (checked against the kernel by
 * tests/netlink_test.ts). Faults can be injected per operation name (the
 * NetlinkHandle method names, plus "open" and "monitorRoutes"), and every call
 * is logged for assertions.
 *
 * ```ts
 * const fake = new FakeNetlink();
 * fake.addNetns("/run/netns/pod1");
 * fake.failNext("addAddr", new NetlinkError(28, "Cannot add address: no space"));
 * ```
 * @module
 */

import { FakeHandle, removeLink } from "./fake_handle.ts";
import {
  type FakeCall,
  type FakeNs,
  type FakeSnapshot,
  FakeWorld,
  type FaultHook,
} from "./fake_world.ts";
import type { Netlink, NetlinkHandle, RouteMonitorOptions } from "./types.ts";

export type { FakeCall, FakeLink, FakeNs, FakeSnapshot, FaultHook } from "./fake_world.ts";

/** The fake Netlink. The caller's own netns is "" and always exists. */
export class FakeNetlink implements Netlink {
  readonly #world = new FakeWorld();

  /** Every call so far, in order (handle methods, "open", "close", "monitorRoutes"). */
  get calls(): readonly FakeCall[] {
    return this.#world.calls;
  }

  /** Calls of one operation, for assertions. */
  callsOf(op: string): FakeCall[] {
    return this.#world.calls.filter((c) => c.op === op);
  }

  /** Forgets the call log (state is kept). */
  clearCalls(): void {
    this.#world.calls.length = 0;
  }

  /** Creates a netns at `path` (like `ip netns add`): only `lo`, down. */
  addNetns(path: string): void {
    this.#world.addNetns(path);
  }

  /** Deletes a netns; veths whose peer lived there vanish with it, as in the kernel. */
  deleteNetns(path: string): void {
    const ns = this.#world.namespaces.get(path);
    if (!ns || path === "") return;
    for (const link of ns.links.values()) {
      if (link.peer) removeLink(this.#world, link.peer.netns, link.peer.index);
    }
    this.#world.namespaces.delete(path);
  }

  hasNetns(path: string): boolean {
    return this.#world.namespaces.has(path);
  }

  /** Live state of a netns (tests may seed it directly, e.g. sysctls). */
  state(path = ""): FakeNs {
    return this.#world.ns(path);
  }

  /** A deep copy of a netns's state. */
  snapshot(path = ""): FakeSnapshot {
    return this.#world.snapshot(path);
  }

  /** Makes the next call of `op` throw `err` (queued: several calls fail in turn). */
  failNext(op: string, err: Error): void {
    this.#world.failNext(op, err);
  }

  /** Makes every call for which `hook` returns an error throw it; returns a remover. */
  failWhen(hook: FaultHook): () => void {
    return this.#world.failWhen(hook);
  }

  open(netns?: string): NetlinkHandle {
    const path = netns ?? "";
    this.#world.call("open", path, [path]);
    return new FakeHandle(this.#world, path);
  }

  /**
   * Emits an event for every route the fake's handles add or delete in that
   * netns (explicit route calls and address prefix routes; not the routes a
   * link takes with it when deleted or set down, as IPv4 does not either).
   */
  monitorRoutes(opts: RouteMonitorOptions): Promise<void> {
    const path = opts.netns ?? "";
    try {
      this.#world.call("monitorRoutes", path, [path]);
      this.#world.ns(path);
    } catch (e) {
      return Promise.reject(e);
    }
    if (opts.signal.aborted) return Promise.resolve();
    const stop = this.#world.listen(path, opts);
    return new Promise((resolve) => {
      opts.signal.addEventListener("abort", () => {
        stop();
        resolve();
      }, { once: true });
    });
  }
}
