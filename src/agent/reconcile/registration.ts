/**
 * This node's entry in the datastore. Registration is level-triggered like
 * the rest of the pass: when the datastore is connected and watched but this
 * node is missing from its node list (someone deleted the entry, a file was
 * restored), the agent registers again, with backoff, instead of leaving the
 * other nodes without a route to it until it restarts.
 * @module
 */
import type { Datastore, NodeInfo, Vtep } from "../../datastore/mod.ts";
import type { Clock } from "../../system/clock.ts";
import type { Logger } from "../observe/mod.ts";

/** First wait before registering again while the entry stays missing; doubles up to the max. */
export const REREGISTER_BACKOFF_MS = { initial: 1_000, max: 60_000 } as const;

/** What a `SelfRegistration` is given. */
export interface SelfRegistrationDeps {
  nodeName: string;
  datastore: Datastore;
  log: Logger;
  clock: Clock;
  /** Called on every datastore change once the watch starts. */
  onDatastoreChange: () => void;
}

/** Keeps this node registered and the datastore watched across passes. */
export class SelfRegistration {
  readonly #d: SelfRegistrationDeps;
  #registered: NodeInfo | undefined;
  #key = "";
  #vtep: Vtep | undefined;
  #started = false;
  /** Earliest monotonic ms for registering again while the entry is missing. */
  #retryAt = 0;
  #retryDelay: number = REREGISTER_BACKOFF_MS.initial;

  constructor(deps: SelfRegistrationDeps) {
    this.#d = deps;
  }

  /** The VTEP last announced (kept, never withdrawn, while the device is away). */
  get vtep(): Vtep | undefined {
    return this.#vtep;
  }

  /** The datastore's nodes, this one included even before the watch shows it. */
  nodes(): NodeInfo[] {
    const nodes = [...this.#d.datastore.nodes()];
    if (this.#registered && !nodes.some((n) => n.name === this.#d.nodeName)) {
      nodes.push(this.#registered);
    }
    return nodes;
  }

  /**
   * Registers when never done, when the addresses or VTEP changed, or when
   * the entry went missing from a connected datastore (after the backoff);
   * then starts the watch once. Throws what the datastore throws.
   */
  async ensure(nodeIps: string[], vtep: Vtep | undefined): Promise<void> {
    let err: unknown;
    try {
      await this.#register(nodeIps, vtep);
    } catch (e) {
      err = e;
    }
    // The watch starts even while registering fails (a store fault at start): its
    // recovery then wakes the loop at once instead of after the retry backoff.
    if (!this.#started) {
      try {
        await this.#d.datastore.start(this.#d.onDatastoreChange);
        this.#started = true;
        this.#d.log.info("watching the datastore", { kind: this.#d.datastore.kind });
      } catch (e) {
        err ??= e;
      }
    }
    if (err !== undefined) throw err;
  }

  async #register(nodeIps: string[], vtep: Vtep | undefined): Promise<void> {
    const key = `${nodeIps.join(",")} ${vtep ? `${vtep.ip} ${vtep.mac}` : "-"}`;
    const missing = this.#missing();
    if (this.#registered && key === this.#key && !missing) return;
    if (nodeIps.length === 0) throw new Error("no node IP found (set --node-ip or --iface)");
    this.#arm(missing);
    if (missing) {
      this.#d.log.warn("own node entry missing from the datastore; registering again", {
        node: this.#d.nodeName,
        nextRetryMs: this.#retryDelay,
      });
    }
    this.#registered = await this.#d.datastore.register({
      name: this.#d.nodeName,
      addresses: nodeIps,
      ...(vtep ? { vtep } : {}),
    });
    this.#key = key;
    this.#vtep = vtep;
    this.#d.log.info("registered", {
      node: this.#d.nodeName,
      addresses: nodeIps.join(","),
      subnets: this.#registered.podCidrs.join(","),
      ...(vtep ? { vtep: `${vtep.ip} ${vtep.mac}` } : {}),
    });
  }

  /** True when a registered, watched, connected datastore lacks this node and the backoff is over. */
  #missing(): boolean {
    if (!this.#registered || !this.#started || !this.#d.datastore.health().connected) return false;
    if (this.#d.datastore.nodes().some((n) => n.name === this.#d.nodeName)) {
      this.#retryDelay = REREGISTER_BACKOFF_MS.initial;
      return false;
    }
    return this.#d.clock.monotonic() >= this.#retryAt;
  }

  /**
   * Sets when the entry may next be registered again: a fresh registration
   * waits the initial delay (the watch may not show the entry yet); each
   * retry doubles the wait (2 s, 4 s, ... up to the max).
   */
  #arm(retry: boolean): void {
    const now = this.#d.clock.monotonic();
    if (!retry) {
      this.#retryAt = now + REREGISTER_BACKOFF_MS.initial;
      return;
    }
    this.#retryDelay = Math.min(this.#retryDelay * 2, REREGISTER_BACKOFF_MS.max);
    this.#retryAt = now + this.#retryDelay;
  }
}
