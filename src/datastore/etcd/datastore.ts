/**
 * The etcd v3 datastore, as flannel and Calico use etcd: each node's entry at
 * `<prefix>nodes/<name>` is attached to a lease kept alive by the agent, so a
 * dead node disappears after the TTL; each pod subnet is claimed at
 * `<prefix>subnets/<cidr>` (value: the owner's name) in a transaction that
 * only succeeds when the key does not exist, so two nodes can never hold one
 * subnet. Claims outlive leases, so a node that comes back gets its subnet
 * again; claims of nodes with no entry are only reused when the cluster CIDR
 * is otherwise full. The node list is a list + watch from the list's
 * revision; after a disconnect the watch resumes from the last revision seen,
 * and when that revision was compacted the datastore lists again.
 * @module
 */

import { Etcd3, type IKeyValue, type IWatchResponse, type Lease, type Watcher } from "etcd3";
import type { Datastore, DatastoreHealth, NodeInfo, SelfRegistration } from "../types.ts";
import { type Clock, RealClock } from "../../system/clock.ts";
import {
  encodeNodeEntry,
  freezeNode,
  parseNodeEntry,
  storedNode,
  validateNodeName,
} from "../node_entry.ts";
import { NodeCache, notifyListener } from "../node_cache.ts";
import { DEFAULT_PREFIX_LENGTH, parseClusterCidrs } from "../subnets.ts";
import { SubnetClaims } from "./claims.ts";
import {
  type BackoffTracker,
  clientOptions,
  errorText,
  type EtcdKeys,
  etcdKeys,
} from "./support.ts";

/** Options of `EtcdDatastore`. */
export interface EtcdDatastoreOptions {
  /** Client URLs ("http://127.0.0.1:2379") or a comma-separated string of them. */
  endpoints: string | readonly string[];
  /** "10.244.0.0/16", "10.244.0.0/16,fd00:10:244::/56" or an array (one CIDR per family). */
  clusterCidr: string | readonly string[];
  /** IPv4 node subnet size; default 24. */
  nodePrefixLength?: number;
  /** IPv6 node subnet size; default 64. */
  nodePrefixLengthV6?: number;
  /** Key prefix; default "/hostgate/". */
  prefix?: string;
  /** Lease TTL of the node entry in seconds (>= 2 with etcd's defaults); default 15. */
  leaseTtlSeconds?: number;
  /** Deadline of each unary call; default 5000 ms. */
  callTimeoutMs?: number;
  /** Reconnect and retry backoff; default 200 ms doubling up to 5000 ms. */
  backoff?: { initialMs?: number; maxMs?: number };
  auth?: { username: string; password: string };
  clock?: Clock;
  /** Log sink (stderr by default). */
  log?: (msg: string) => void;
}

/** Lease of a node entry: it disappears this long after its agent stops renewing. */
const DEFAULT_LEASE_TTL_SECONDS = 15;
/** Reconnect and retry backoff of the client. */
const DEFAULT_BACKOFF = { initialMs: 200, maxMs: 5000 } as const;
/** Deadline of each unary call. */
const DEFAULT_CALL_TIMEOUT_MS = 5000;
/** etcd3 retries a failed keepalive after 100 ms; close() waits this long after a failure. */
const KEEPALIVE_RETRY_WAIT_MS = 150;
/** Added to a wait for someone else's timer, so it has surely fired. */
const TIMER_SLACK_MS = 20;
/** How long close() waits for a watch cancel the server may never answer. */
const WATCH_CANCEL_WAIT_MS = 1000;

/** The etcd datastore; see the module doc. */
export class EtcdDatastore implements Datastore {
  readonly kind = "etcd";
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  readonly #claims: SubnetClaims;
  readonly #ttl: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #clock: Clock;
  readonly #log: (msg: string) => void;
  readonly #abort = new AbortController();
  readonly #tracker: BackoffTracker = { until: 0 };
  readonly #tasks = new Set<Promise<void>>();
  readonly #cache = new NodeCache();
  #health: DatastoreHealth = { connected: false, events: 0 };
  #onChange: (() => void) | undefined;
  #watcher: Watcher | undefined;
  #lease: Lease | undefined;
  #leaseFailedAt = 0;
  #self: SelfRegistration | undefined;
  #registering: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(opts: EtcdDatastoreOptions) {
    const endpoints = typeof opts.endpoints === "string"
      ? opts.endpoints.split(",").map((s) => s.trim()).filter((s) => s !== "")
      : [...opts.endpoints];
    if (endpoints.length === 0) throw new Error("Cannot create etcd datastore: no endpoints");
    this.#keys = etcdKeys(opts.prefix);
    const clusterCidrs = parseClusterCidrs(opts.clusterCidr);
    this.#ttl = opts.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    if (!Number.isInteger(this.#ttl) || this.#ttl < 1) {
      throw new Error(`Cannot create etcd datastore: lease TTL ${this.#ttl} is not a whole second`);
    }
    this.#backoff = {
      initialMs: opts.backoff?.initialMs ?? DEFAULT_BACKOFF.initialMs,
      maxMs: opts.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs,
    };
    this.#clock = opts.clock ?? new RealClock();
    this.#log = opts.log ?? ((msg) => console.error(msg));
    this.#client = new Etcd3(clientOptions({
      endpoints,
      callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      backoff: this.#backoff,
      tracker: this.#tracker,
      auth: opts.auth,
    }));
    this.#claims = new SubnetClaims({
      client: this.#client,
      keys: this.#keys,
      clusterCidrs,
      prefixLengths: {
        4: opts.nodePrefixLength ?? DEFAULT_PREFIX_LENGTH[4],
        6: opts.nodePrefixLengthV6 ?? DEFAULT_PREFIX_LENGTH[6],
      },
      log: this.#log,
    });
  }

  /** Claims (or finds) this node's subnets, then writes its entry under its lease. */
  register(self: SelfRegistration): Promise<NodeInfo> {
    // Serialized: the agent and the lease-loss handler may both register.
    const run = this.#registering.then(() => this.#register(self));
    this.#registering = run.catch(() => {});
    return run;
  }

  async #register(self: SelfRegistration): Promise<NodeInfo> {
    if (this.#closed) throw new Error("Cannot register in etcd: the datastore is closed");
    validateNodeName(self.name);
    const draft: NodeInfo = { name: self.name, podCidrs: [], addresses: [...self.addresses] };
    if (self.vtep) draft.vtep = { ...self.vtep };
    storedNode(draft); // validate before any write
    const podCidrs = await this.#claims.claim(self.name);
    const node = storedNode({ ...draft, podCidrs });
    const lease = await this.#ensureLease();
    await lease.put(this.#keys.node(self.name)).value(encodeNodeEntry(node));
    this.#self = self;
    this.#notifyIf(this.#cache.apply([[self.name, node]]));
    return freezeNode(node);
  }

  /** Lists the nodes, then watches them; retries in the background while etcd is away. */
  async start(onChange: () => void): Promise<void> {
    if (this.#onChange) throw new Error("Cannot start etcd datastore: already started");
    if (this.#closed) throw new Error("Cannot start etcd datastore: it is closed");
    this.#onChange = onChange;
    try {
      await this.#sync();
    } catch (e) {
      this.#setDisconnected(`Cannot list nodes in etcd: ${errorText(e)}`);
      this.#spawn(this.#syncUntilDone());
    }
  }

  nodes(): NodeInfo[] {
    return this.#cache.list();
  }

  health(): DatastoreHealth {
    return { ...this.#health };
  }

  /**
   * Admin action: deletes a node's entry and releases its subnet claims, so
   * the subnets can be reused at once. Returns false when there was no entry.
   */
  async removeNode(name: string): Promise<boolean> {
    validateNodeName(name);
    const res = await this.#client.delete().key(this.#keys.node(name)).exec();
    await this.#claims.releaseAll(name);
    this.#notifyIf(this.#cache.apply([[name, undefined]]));
    return Number(res.deleted) > 0;
  }

  /** Stops the watch, the keepalive and retries; the entry expires after the TTL. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    await this.#stopWatcher();
    this.#lease?.release();
    this.#lease = undefined;
    await Promise.allSettled([...this.#tasks, this.#registering]);
    this.#client.close();
    // The client's own timers cannot be cancelled; wait until they fired harmlessly:
    // the watch reconnect timer (tracked) and the keepalive retry timer.
    const waitMs = Math.max(
      this.#tracker.until - Date.now(),
      this.#leaseFailedAt + KEEPALIVE_RETRY_WAIT_MS - Date.now(),
      0,
    );
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs + TIMER_SLACK_MS));
  }

  // ---- lease -------------------------------------------------------------

  async #ensureLease(): Promise<Lease> {
    if (this.#lease && !this.#lease.revoked()) return this.#lease;
    const lease = this.#client.lease(this.#ttl);
    lease.on("lost", (err) => this.#leaseLost(lease, err));
    lease.on("keepaliveFailed", () => (this.#leaseFailedAt = Date.now()));
    await lease.grant();
    this.#lease = lease;
    return lease;
  }

  /** The lease expired (etcd away longer than the TTL): register again with a new one. */
  #leaseLost(lease: Lease, err: Error): void {
    if (this.#closed || lease !== this.#lease) return;
    this.#lease = undefined;
    this.#log(`hostgate datastore etcd: lease lost (${errorText(err)}); registering again`);
    const self = this.#self;
    if (!self) return;
    this.#spawn(this.#retry("re-register", () => this.register(self).then(() => {})));
  }

  // ---- list + watch --------------------------------------------------------

  async #sync(): Promise<void> {
    await this.#stopWatcher();
    const res = await this.#client.getAll().prefix(this.#keys.nodes).exec();
    const nodes: NodeInfo[] = [];
    for (const kv of res.kvs) {
      const node = this.#decode(kv);
      if (node) nodes.push(node);
    }
    this.#notifyIf(this.#cache.replace(nodes));
    if (this.#closed) return;
    const from = (BigInt(res.header.revision) + 1n).toString();
    const watcher = this.#client.watch().prefix(this.#keys.nodes).startRevision(from).watcher();
    this.#watcher = watcher;
    watcher.on("connected", () => this.#setConnected());
    watcher.on("disconnected", (e) => this.#setDisconnected(`Cannot watch etcd: ${errorText(e)}`));
    watcher.on("data", (r) => this.#onWatch(r));
    watcher.on("error", (e) => {
      // The watch was cancelled by etcd, e.g. its revision was compacted: list again.
      if (this.#watcher !== watcher || this.#closed) return;
      this.#watcher = undefined;
      watcher.removeAllListeners();
      this.#setDisconnected(`Cannot watch etcd: ${errorText(e)}; listing again`);
      this.#spawn(this.#syncUntilDone());
    });
    this.#setConnected();
  }

  async #syncUntilDone(): Promise<void> {
    await this.#retry("list nodes", () => this.#sync());
  }

  #onWatch(res: IWatchResponse): void {
    const changes: [string, NodeInfo | undefined][] = [];
    for (const ev of res.events) {
      const name = ev.kv.key.toString().slice(this.#keys.nodes.length);
      changes.push([name, ev.type === "Put" ? this.#decode(ev.kv) : undefined]);
    }
    this.#setConnected();
    this.#notifyIf(this.#cache.apply(changes));
  }

  #decode(kv: IKeyValue): NodeInfo | undefined {
    const key = kv.key.toString();
    try {
      return parseNodeEntry(kv.value.toString(), key.slice(this.#keys.nodes.length));
    } catch (e) {
      this.#log(`hostgate datastore etcd: skipping ${key}: ${errorText(e)}`);
      return undefined;
    }
  }

  /** One onChange call when a change to the cache differed. */
  #notifyIf(changed: boolean): void {
    if (!changed || !this.#onChange || this.#closed) return;
    this.#health.events++;
    notifyListener(this.#onChange, this.#log, "etcd");
  }

  async #stopWatcher(): Promise<void> {
    const w = this.#watcher;
    this.#watcher = undefined;
    if (!w) return;
    w.removeAllListeners("data");
    w.removeAllListeners("connected");
    w.removeAllListeners("disconnected");
    w.on("error", () => {}); // a late cancel error must not throw
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      w.cancel().catch(() => {}),
      new Promise((r) => (timer = setTimeout(r, WATCH_CANCEL_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  // ---- plumbing --------------------------------------------------------------

  /** Runs `fn` until it succeeds or the datastore closes, backing off between tries. */
  async #retry(what: string, fn: () => Promise<void>): Promise<void> {
    let delay = this.#backoff.initialMs;
    while (!this.#closed) {
      try {
        await fn();
        return;
      } catch (e) {
        if (this.#closed) return;
        this.#setDisconnected(`Cannot ${what} in etcd: ${errorText(e)}`);
        await this.#clock.sleep(delay, this.#abort.signal);
        delay = Math.min(delay * 2, this.#backoff.maxMs);
      }
    }
  }

  #spawn(p: Promise<void>): void {
    const task = p.catch((e) => this.#log(`hostgate datastore etcd: ${errorText(e)}`))
      .finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  #setConnected(): void {
    if (this.#health.connected && this.#health.lastError === undefined) return;
    this.#health = { connected: true, events: this.#health.events };
  }

  #setDisconnected(msg: string): void {
    if (this.#closed) return;
    if (this.#health.connected || this.#health.lastError !== msg) {
      this.#log(`hostgate datastore etcd: ${msg}`);
    }
    this.#health = { connected: false, lastError: msg, events: this.#health.events };
  }
}
