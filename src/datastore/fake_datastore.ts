/**
 * An in-memory Datastore for the agent's unit tests: nodes set and deleted
 * by the test, subnets handed out from a list, and faults (unreachable
 * store, failing register) switched on and off. Every change calls the
 * registered onChange, as a real watch would.
 * @module
 */
import type {
  Datastore,
  DatastoreHealth,
  NodeInfo,
  PodAddress,
  SelfRegistration,
} from "./types.ts";

/** Options of FakeDatastore. */
export interface FakeDatastoreOptions {
  /** Initial nodes. */
  nodes?: NodeInfo[];
  /** Subnets handed to nodes registering without one, in order. */
  pool?: string[];
}

/** The fake. */
export class FakeDatastore implements Datastore {
  readonly kind = "fake";
  /** Calls made, by method name. */
  readonly calls: string[] = [];
  readonly #nodes = new Map<string, NodeInfo>();
  readonly #pool: string[];
  #podAddresses: PodAddress[] = [];
  #onChange: (() => void) | undefined;
  #connected = true;
  #lastError: string | undefined;
  #events = 0;
  #failRegister: Error | undefined;
  #closed = false;

  constructor(opts: FakeDatastoreOptions = {}) {
    for (const n of opts.nodes ?? []) this.#nodes.set(n.name, structuredClone(n));
    this.#pool = [...(opts.pool ?? [])];
  }

  /** Adds or replaces a node and notifies. */
  setNode(node: NodeInfo): void {
    this.#nodes.set(node.name, structuredClone(node));
    this.#changed();
  }

  /** Replaces the pool addresses (as IPAllocation events would) and notifies. */
  setPodAddresses(list: PodAddress[]): void {
    this.#podAddresses = structuredClone(list);
    this.#changed();
  }

  podAddresses(): PodAddress[] {
    return structuredClone(this.#podAddresses);
  }

  /** Deletes a node and notifies; returns whether it existed. */
  deleteNode(name: string): boolean {
    const had = this.#nodes.delete(name);
    if (had) this.#changed();
    return had;
  }

  /** Simulates losing the store: register throws, health says disconnected, nodes() keeps the last snapshot. */
  disconnect(error = "connection refused"): void {
    this.#connected = false;
    this.#lastError = error;
  }

  /** Back online. */
  reconnect(): void {
    this.#connected = true;
    this.#lastError = undefined;
    this.#changed();
  }

  /** Makes the next register throw `err` (once). */
  failNextRegister(err: Error): void {
    this.#failRegister = err;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#closed;
  }

  register(self: SelfRegistration): Promise<NodeInfo> {
    this.calls.push("register");
    if (this.#failRegister) {
      const e = this.#failRegister;
      this.#failRegister = undefined;
      return Promise.reject(e);
    }
    if (!this.#connected) {
      return Promise.reject(new Error(`Cannot register: ${this.#lastError}`));
    }
    const old = this.#nodes.get(self.name);
    let podCidrs = old?.podCidrs ?? [];
    if (podCidrs.length === 0) {
      const next = this.#pool.shift();
      if (next === undefined) return Promise.reject(new Error("Cannot register: pool exhausted"));
      podCidrs = [next];
    }
    const node: NodeInfo = { name: self.name, podCidrs, addresses: [...self.addresses] };
    if (self.vtep) node.vtep = { ...self.vtep };
    this.#nodes.set(self.name, node);
    this.#changed();
    return Promise.resolve(structuredClone(node));
  }

  start(onChange: () => void): Promise<void> {
    this.calls.push("start");
    if (!this.#connected) {
      return Promise.reject(new Error(`Cannot watch: ${this.#lastError}`));
    }
    this.#onChange = onChange;
    return Promise.resolve();
  }

  /** Every node; an entry without an ownership record owns its own subnets (set one to test the gate). */
  nodes(): NodeInfo[] {
    return [...this.#nodes.values()].map((n) => {
      const c = structuredClone(n);
      c.ownership ??= { source: "claim", subnets: [...c.podCidrs] };
      return c;
    });
  }

  health(): DatastoreHealth {
    return {
      connected: this.#connected,
      lastError: this.#lastError,
      events: this.#events,
      authoritative: this.#connected,
    };
  }

  close(): Promise<void> {
    this.calls.push("close");
    this.#closed = true;
    this.#onChange = undefined;
    return Promise.resolve();
  }

  #changed(): void {
    this.#events++;
    this.#onChange?.();
  }
}
