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
import {
  type Datastore,
  type DatastoreHealth,
  type EntryReject,
  type NodeInfo,
  type SelfRegistration,
} from "../types.ts";
import { type Clock, RealClock } from "../../system/clock.ts";
import {
  decodeNodeEntry,
  encodeNodeEntry,
  freezeNode,
  isEntryReject,
  storedNode,
  validateNodeName,
} from "../node_entry.ts";
import { NodeCache, notifyListener } from "../node_cache.ts";
import { DEFAULT_PREFIX_LENGTH, normalizeCidr, parseClusterCidrs } from "../subnets.ts";
import { errorKind, LogLimiter } from "../log_limiter.ts";
import { SubnetClaims } from "./claims.ts";
import { sharedChannelOptions, SharedChannels } from "./channel.ts";
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
  /** Reconnect and retry backoff; default 200 ms growing up to 500 ms, with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  auth?: { username: string; password: string };
  clock?: Clock;
  /** Log sink (stderr by default). */
  log?: (msg: string) => void;
}

/** Lease of a node entry: it disappears this long after its agent stops renewing. */
const DEFAULT_LEASE_TTL_SECONDS = 15;
/**
 * Reconnect and retry backoff of the client, capped low: the channel dials
 * etcd again at most 0.6 s (500 ms + grpc-js's 20 % jitter) after it came
 * back, and a waiting retry wakes on that connection, so routes converge
 * within the 1 s recovery budget. The cost while etcd is away: about two
 * refused connection attempts a second, one socket at a time.
 */
const DEFAULT_BACKOFF = { initialMs: 200, maxMs: 500 } as const;
/** How often the store is probed while the watch says nothing. */
export const PROBE_EVERY_MS = 500;
/** A probe unanswered this long marks the store not connected (the /readyz budget is 2 s). */
export const PROBE_TIMEOUT_MS = 1000;
/** Longest claim value (an owner's node name). */
const MAX_CLAIM_VALUE_BYTES = 253;
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
  /** The one channel (so one connection) per endpoint of every service client. */
  readonly #channels: SharedChannels;
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
  /** The ownership record: subnet -> owner, from the claim keys. */
  #claimCache = new Map<string, string>();
  /** nodes() with ownership attached; rebuilt after a change. */
  #owned: NodeInfo[] | undefined;
  /** Refused values by key. */
  readonly #bad = new Map<string, EntryReject>();
  #lastContact = 0;
  /** At most one line per 10 s per kind of error. */
  readonly #limited: LogLimiter;
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
    this.#limited = new LogLimiter({ clock: this.#clock, log: this.#log });
    const grpcOptions = sharedChannelOptions(this.#backoff);
    this.#client = new Etcd3(clientOptions({
      endpoints,
      callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      backoff: this.#backoff,
      tracker: this.#tracker,
      auth: opts.auth,
      grpcOptions,
    }));
    this.#channels = SharedChannels.attach(this.#client, grpcOptions);
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
    // Our own claims, known before the watch echoes them.
    for (const c of podCidrs) this.#claimCache.set(c, self.name);
    this.#owned = undefined;
    this.#notifyIf(this.#cache.apply([[self.name, node]]));
    return freezeNode(node);
  }

  /** Lists the nodes, then watches them; retries in the background while etcd is away. */
  async start(onChange: () => void): Promise<void> {
    if (this.#onChange) throw new Error("Cannot start etcd datastore: already started");
    if (this.#closed) throw new Error("Cannot start etcd datastore: it is closed");
    this.#onChange = onChange;
    this.#spawn(this.#probeLoop());
    try {
      await this.#sync();
    } catch (e) {
      this.#setDisconnected(`Cannot list nodes in etcd: ${errorText(e)}`);
      this.#spawn(this.#syncUntilDone());
    }
  }

  /**
   * A watch stream stays open while etcd is frozen (SIGSTOP) or a link
   * silently drops: every `PROBE_EVERY_MS` one cheap read on the same client
   * (never more than one in flight) must answer within `PROBE_TIMEOUT_MS`,
   * or the store is marked not connected until one does.
   */
  async #probeLoop(): Promise<void> {
    while (!this.#closed) {
      await this.#clock.sleep(PROBE_EVERY_MS, this.#abort.signal);
      if (this.#closed) return;
      if (!this.#watcher) continue; // listing again: #retry reports the state
      let answered = false;
      const call = this.#client.get(this.#keys.prefix).exec().then(
        () => {
          answered = true;
          if (this.#watcher) this.#setConnected();
        },
        (e) => {
          answered = true;
          this.#setDisconnected(`Cannot reach etcd: ${errorText(e)}`);
        },
      );
      const stop = new AbortController();
      await Promise.race([call, this.#clock.sleep(PROBE_TIMEOUT_MS, stop.signal)]);
      stop.abort();
      if (!answered) {
        this.#setDisconnected(`Cannot reach etcd: no answer within ${PROBE_TIMEOUT_MS} ms`);
        await call;
      }
    }
  }

  /** Every node, each with the subnets its claim keys give it. */
  nodes(): NodeInfo[] {
    if (!this.#owned) {
      const byOwner = new Map<string, string[]>();
      for (const [cidr, owner] of this.#claimCache) {
        byOwner.set(owner, [...(byOwner.get(owner) ?? []), cidr]);
      }
      this.#owned = this.#cache.list().map((n) =>
        freezeNode({ ...n, ownership: { source: "claim", subnets: byOwner.get(n.name) ?? [] } })
      );
    }
    return [...this.#owned];
  }

  entryRejects(): EntryReject[] {
    return [...this.#bad.values()].map((b) => ({ ...b }));
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
    this.#channels.close();
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
    // Our own keepalive loop, not etcd3's: on a failure the client retries every 100 ms, each
    // retry on a fresh connection, which piles up hundreds of sockets while etcd is away.
    const lease = this.#client.lease(this.#ttl, { autoKeepAlive: false });
    lease.on("lost", (err) => this.#leaseLost(lease, err));
    lease.on("keepaliveFailed", () => (this.#leaseFailedAt = Date.now()));
    await lease.grant();
    this.#lease = lease;
    this.#spawn(this.#keepLease(lease));
    return lease;
  }

  /**
   * Renews `lease` every third of its TTL until it is replaced, lost or the
   * datastore closes; after a failure, again after the capped, jittered
   * backoff. One renewal in flight at most: one that etcd never answers
   * (frozen) is left behind after a third of the TTL, never repeated at once.
   */
  async #keepLease(lease: Lease): Promise<void> {
    const everyMs = Math.max(500, Math.floor((this.#ttl * 1000) / 3));
    let delay = this.#backoff.initialMs;
    let wait = everyMs;
    while (!this.#closed && this.#lease === lease && !lease.revoked()) {
      await this.#clock.sleep(wait, this.#abort.signal);
      if (this.#closed || this.#lease !== lease || lease.revoked()) return;
      const result = { outcome: "silent" as "ok" | "failed" | "silent" };
      const call = lease.keepaliveOnce().then(
        () => void (result.outcome = "ok"),
        (e) => {
          result.outcome = "failed";
          this.#limited.line(
            "keepalive",
            `hostgate datastore etcd: Cannot renew the lease: ${errorText(e)}`,
          );
        },
      );
      const stop = new AbortController();
      await Promise.race([call, this.#clock.sleep(everyMs, stop.signal)]);
      stop.abort();
      if (result.outcome === "ok") {
        delay = this.#backoff.initialMs;
        wait = everyMs;
      } else {
        wait = Math.round(delay * (0.5 + Math.random() / 2));
        delay = Math.min(delay * 2, this.#backoff.maxMs);
      }
    }
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
    // Entries and claims in one read (one revision): ownership is never judged on a mix.
    const res = await this.#client.getAll().prefix(this.#keys.prefix).exec();
    const nodes: NodeInfo[] = [];
    const claims = new Map<string, string>();
    this.#bad.clear();
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      if (key.startsWith(this.#keys.subnets)) {
        const c = this.#decodeClaim(kv);
        if (c) claims.set(c[0], c[1]);
      } else if (key.startsWith(this.#keys.nodes)) {
        const node = this.#decode(kv);
        if (node) nodes.push(node);
      }
    }
    const claimsChanged = [...claims].sort().join(";") !== [...this.#claimCache].sort().join(";");
    this.#claimCache = claims;
    const was = this.#health.connected;
    this.#setConnected(false);
    // One change for the list and the recovery together.
    this.#notifyIf(this.#cache.replace(nodes) || claimsChanged || !was);
    if (this.#closed) return;
    const from = (BigInt(res.header.revision) + 1n).toString();
    const watcher = this.#client.watch().prefix(this.#keys.prefix).startRevision(from).watcher();
    this.#watcher = watcher;
    watcher.on("connected", () => this.#setConnected());
    watcher.on("disconnected", (e) => {
      if (this.#watcher !== watcher || this.#closed) return;
      this.#setDisconnected(`Cannot watch etcd: ${errorText(e)}`);
      // etcd3 would reconnect the stream itself, but every failure schedules two retries (the
      // stream's error and its end), each on a new connection: hundreds of sockets within
      // seconds. Drop the watcher and list again under our own capped, jittered backoff.
      this.#spawn(this.#relist(watcher));
    });
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

  /** After a watch broke: stop it, wait one jittered initial backoff, list and watch again. */
  async #relist(watcher: Watcher): Promise<void> {
    if (this.#watcher !== watcher) return;
    await this.#stopWatcher();
    const ms = Math.round(this.#backoff.initialMs * (0.5 + Math.random() / 2));
    await this.#clock.sleep(ms, this.#abort.signal);
    if (!this.#closed && !this.#watcher) await this.#syncUntilDone();
  }

  async #syncUntilDone(): Promise<void> {
    await this.#retry("list nodes", () => this.#sync());
  }

  #onWatch(res: IWatchResponse): void {
    const changes: [string, NodeInfo | undefined][] = [];
    let claimsChanged = false;
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      if (key.startsWith(this.#keys.subnets)) {
        const c = ev.type === "Put" ? this.#decodeClaim(ev.kv) : undefined;
        const cidr = c?.[0] ?? this.#claimCidr(key);
        if (cidr === undefined) continue;
        if (c) this.#claimCache.set(c[0], c[1]);
        else this.#claimCache.delete(cidr);
        claimsChanged = true;
      } else if (key.startsWith(this.#keys.nodes)) {
        const name = key.slice(this.#keys.nodes.length);
        this.#bad.delete(key);
        changes.push([name, ev.type === "Put" ? this.#decode(ev.kv) : undefined]);
      }
    }
    const was = this.#health.connected;
    this.#setConnected(false);
    this.#notifyIf(this.#cache.apply(changes) || claimsChanged || !was);
  }

  #claimCidr(key: string): string | undefined {
    try {
      return normalizeCidr(key.slice(this.#keys.subnets.length));
    } catch {
      return undefined;
    }
  }

  #decodeClaim(kv: IKeyValue): [string, string] | undefined {
    const cidr = this.#claimCidr(kv.key.toString());
    if (cidr === undefined || kv.value.length > MAX_CLAIM_VALUE_BYTES) return undefined;
    const owner = kv.value.toString();
    try {
      validateNodeName(owner);
    } catch {
      return undefined;
    }
    return [cidr, owner];
  }

  #decode(kv: IKeyValue): NodeInfo | undefined {
    const key = kv.key.toString();
    const name = key.slice(this.#keys.nodes.length);
    // Size-capped before any decoding: a huge value is never turned into a string.
    const r = decodeNodeEntry(name, kv.value.length, () => kv.value.toString());
    if (!isEntryReject(r)) return r;
    this.#reject(key, r);
    return undefined;
  }

  #reject(key: string, r: EntryReject): void {
    const old = this.#bad.get(key);
    if (!old || old.detail !== r.detail) {
      this.#log(`hostgate datastore etcd: skipping ${key}: ${r.reason}: ${r.detail}`);
    }
    this.#bad.set(key, r);
  }

  /** One onChange call when a change to the cache differed. */
  #notifyIf(changed: boolean): void {
    if (!changed) return;
    this.#owned = undefined;
    if (!this.#onChange || this.#closed) return;
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
        // Jitter (0.5x-1x) so the agents of a cluster do not reconnect in step.
        // Cut short when the channel reconnects (grpc-js retries it under the same capped
        // backoff): etcd back is used at once, not after this timer as well.
        const ms = Math.round(delay * (0.5 + Math.random() / 2));
        const stop = new AbortController();
        const signal = AbortSignal.any([this.#abort.signal, stop.signal]);
        await Promise.race([this.#clock.sleep(ms, signal), this.#channels.untilReady(ms, signal)]);
        stop.abort();
        delay = Math.min(delay * 2, this.#backoff.maxMs);
      }
    }
  }

  #spawn(p: Promise<void>): void {
    const task = p.catch((e) => this.#log(`hostgate datastore etcd: ${errorText(e)}`))
      .finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  #setConnected(notify = true): void {
    this.#lastContact = this.#clock.monotonic();
    if (this.#health.connected && this.#health.lastError === undefined) return;
    const was = this.#health.connected;
    this.#health = {
      connected: true,
      events: this.#health.events,
      authoritative: true,
      lastContactMs: this.#lastContact,
    };
    if (!was && this.#limited.used) {
      this.#limited.line("connected", "hostgate datastore etcd: connected again");
    }
    if (!was && notify) this.#notify();
  }

  #setDisconnected(msg: string): void {
    if (this.#closed) return;
    const was = this.#health.connected;
    this.#limited.line(errorKind(msg), `hostgate datastore etcd: ${msg}`);
    this.#health = {
      connected: false,
      lastError: msg,
      events: this.#health.events,
      authoritative: false,
      lastContactMs: this.#lastContact,
    };
    // The agent re-reads readiness at once; its routes stay (a fault is not "empty").
    if (was) this.#notify();
  }

  #notify(): void {
    if (!this.#onChange || this.#closed) return;
    this.#health.events++;
    notifyListener(this.#onChange, this.#log, "etcd");
  }
}
