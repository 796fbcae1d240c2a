/**
 * The in-cluster datastore: nodes come from a projected list/watch of Node
 * objects (list_watch.ts: paginated or watch-list, each Node cut down at
 * ingest to its pod subnets from spec.podCIDRs, InternalIPs and the VTEP
 * annotations this agent writes; an update that changes none of them is no
 * change). The config (kubeconfig or in-cluster: token, TLS material) is
 * config.ts's own loader; reads and the few writes go through transport.ts.
 * When the controller-manager does not allocate pod CIDRs, subnets are
 * handed out from the cluster CIDR through the
 * `hostgate-subnets` ConfigMap with optimistic concurrency (resourceVersion,
 * retry on 409 Conflict) and freed by whichever agent sees the Node deleted.
 * Loaded only by the agent; the plugin never imports this file.
 * @module
 */

import { LogLimiter } from "../log_limiter.ts";
import type {
  Datastore,
  DatastoreHealth,
  NodeInfo,
  PodAddress,
  SelfRegistration,
} from "../types.ts";
import { MAX_ENTRY_BYTES } from "../types.ts";
import { type Clock, RealClock } from "../../system/clock.ts";
import { type Backoff, type Change, ProjectedListWatch } from "./list_watch.ts";
import { probeUntilStopped } from "./probe.ts";
import { assignSubnets, parseClusterCidrs } from "../subnets.ts";
import {
  IPALLOCATIONS_PATH,
  projectAllocation,
  samePodAddress,
  sortedPodAddresses,
} from "./allocations.ts";
import {
  type Allocations,
  formatAllocation,
  mergeProjections,
  NODE_SELECTOR,
  type NodeLike,
  type NodeProjection,
  nodeToInfo,
  parseAllocations,
  projectNode,
  registrationPatch,
  sameAllocations,
  sameNodeProjection,
  specPodCidrs,
} from "./nodes.ts";
import {
  describe,
  httpStatus,
  type KubeAccess,
  type KubeConfigSource,
  loadKubeAccess,
} from "./config.ts";
import { type ApiTransport, fetchTransport } from "./transport.ts";
import { KubernetesPolicySource } from "./policy.ts";
import { type ConfigMapLike, CoreApi } from "./core_api.ts";

export * from "./nodes.ts";
export * from "./config.ts";
export type { Backoff, Change, ListWatchStats } from "./list_watch.ts";

/** Options of `KubernetesDatastore`. */
export interface KubernetesDatastoreOptions extends KubeConfigSource {
  /** Namespace of the allocation ConfigMap; default the config's namespace, else kube-system. */
  namespace?: string;
  /** Name of the allocation ConfigMap; default "hostgate-subnets". */
  configMapName?: string;
  /** Cluster pod CIDRs (one per family) for nodes without spec.podCIDR; none disables allocation. */
  clusterCidrs?: string[];
  /** Node subnet size per family when allocating (default /24 and /64). */
  nodePrefixV4?: number;
  nodePrefixV6?: number;
  /** Restart timing of a failed list/watch (default 500 ms doubling to 30 s). */
  backoff?: Partial<Backoff>;
  /**
   * LIST page size (default 250 objects). A page is decoded as it streams in
   * (list_page.ts), so the size sets the number of requests, not the memory.
   */
  pageSize?: number;
  /**
   * Initial state and relists by the streaming watch-list (sendInitialEvents)
   * instead of paginated LIST; a server that refuses it is paged. Default false.
   */
  watchList?: boolean;
  /** The HTTP side of list/watch (default fetch with the kubeconfig's credentials). */
  transport?: ApiTransport;
  /**
   * The loaded config (createDatastore loads it, YAML included); default:
   * `loadKubeAccess` here (in-cluster or a JSON kubeconfig).
   */
  access?: KubeAccess;
  /**
   * When a Node is deleted, the agent of the lowest-named remaining node frees
   * its entry at once; the others wait this long (plus jitter, default 2000 ms)
   * and only act if the entry is still there, so a deletion in a large cluster
   * does not make every agent race for the same ConfigMap.
   */
  releaseDelayMs?: number;
  /** Attempts of a ConfigMap write that keeps hitting 409 Conflict (default 50). */
  maxConflictRetries?: number;
  clock?: Clock;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
  /** Log sink (stderr by default). */
  log?: (msg: string) => void;
  /**
   * Also watch IPAllocation objects (the hostgate-ippool IPAM's addresses)
   * and expose them as `podAddresses()`, so the agent routes pool addresses
   * of pods on other nodes. Off by default: it needs list/watch on
   * ipallocations, which the node-local IPAM's RBAC does not grant.
   */
  watchAllocations?: boolean;
  /**
   * Also watch NetworkPolicies, Pods and Namespaces for the agent's policy
   * enforcement (`policy`). Needs list/watch on those three.
   */
  watchPolicy?: boolean;
}

/** What the datastore keeps of the allocation ConfigMap. */
interface ConfigMapProjection {
  allocations: Allocations;
}

/** The Kubernetes implementation of `Datastore`. */
export class KubernetesDatastore implements Datastore {
  readonly kind = "kubernetes";
  /** Namespace of the allocation ConfigMap. */
  readonly namespace: string;
  readonly configMapName: string;
  readonly #opts: KubernetesDatastoreOptions;
  readonly #transport: ApiTransport;
  readonly #core: CoreApi;
  readonly #nodes: ProjectedListWatch<NodeProjection>;
  readonly #cm: ProjectedListWatch<ConfigMapProjection>;
  readonly #allocs: ProjectedListWatch<PodAddress | null> | undefined;
  /** NetworkPolicy inputs, with `watchPolicy`. */
  readonly policy: KubernetesPolicySource | undefined;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #log: (msg: string) => void;
  readonly #stop = new AbortController();
  readonly #state = new Map<string, { connected: boolean; error?: string }>();
  readonly #tasks = new Set<Promise<void>>();
  #onChange: () => void = () => {};
  #events = 0;
  #conflicts = 0;
  #self: string | undefined;
  #lastAllocation: readonly string[] | undefined;
  #healing = false;
  /** nodes() as last computed; dropped on every change. */
  #snapshot: NodeInfo[] | undefined;
  readonly #clusterCidrs: string[];

  constructor(opts: KubernetesDatastoreOptions) {
    this.#opts = opts;
    this.#clusterCidrs = opts.clusterCidrs?.length ? parseClusterCidrs(opts.clusterCidrs) : [];
    const access = opts.access ?? loadKubeAccess(opts);
    this.namespace = opts.namespace ?? access.namespace ?? "kube-system";
    this.configMapName = opts.configMapName ?? "hostgate-subnets";
    this.#transport = opts.transport ?? fetchTransport(access);
    this.#core = new CoreApi(this.#transport);
    this.#clock = opts.clock ?? new RealClock();
    this.#random = opts.random ?? Math.random;
    this.#log = opts.log ?? ((m) => console.error(m));
    const common = {
      transport: this.#transport,
      clock: this.#clock,
      random: this.#random,
      log: this.#log,
      // One limiter for every list/watch: an outage is one line per 10 s per kind of error.
      limiter: new LogLimiter({ clock: this.#clock, log: this.#log }),
      backoff: { initialMs: 500, maxMs: 30_000, ...opts.backoff },
      pageSize: opts.pageSize,
      watchList: opts.watchList,
    };
    this.#nodes = new ProjectedListWatch<NodeProjection>({
      ...common,
      path: "/api/v1/nodes",
      select: NODE_SELECTOR,
      // No value the projection reads is longer than an entry; a bigger one is never decoded.
      maxValueBytes: MAX_ENTRY_BYTES,
      project: projectNode,
      same: sameNodeProjection,
      onChanges: (changes) => this.#nodeChanges(changes),
      onState: (ok, err) => this.#setState("nodes", ok, err),
    });
    this.#cm = new ProjectedListWatch<ConfigMapProjection>({
      ...common,
      path: `/api/v1/namespaces/${this.namespace}/configmaps`,
      fieldSelector: `metadata.name=${this.configMapName}`,
      select: { data: true },
      project: (o) => ({ allocations: parseAllocations(o.data as Record<string, string>) }),
      same: (a, b) => sameAllocations(a.allocations, b.allocations),
      onChanges: (changes) => this.#changed(changes.length),
      onState: (ok, err) => this.#setState("configmap", ok, err),
    });
    this.policy = opts.watchPolicy ? new KubernetesPolicySource(common) : undefined;
    if (opts.watchAllocations) {
      this.#allocs = new ProjectedListWatch<PodAddress | null>({
        ...common,
        path: IPALLOCATIONS_PATH,
        project: projectAllocation,
        same: samePodAddress,
        onChanges: (changes) => this.#changed(changes.length),
        onState: (ok, err) => this.#setState("ipallocations", ok, err),
      });
    }
  }

  /** 409 Conflicts met while writing the allocation ConfigMap (for metrics and tests). */
  get conflicts(): number {
    return this.#conflicts;
  }

  /** Counters of the Node list/watch (relists, pages, 410s, unchanged updates). */
  get nodeStats(): ProjectedListWatch<NodeProjection>["stats"] {
    return this.#nodes.stats;
  }

  async register(self: SelfRegistration): Promise<NodeInfo> {
    let node: NodeLike;
    try {
      node = await this.#core.readNode(self.name);
      const patch = registrationPatch(node, self);
      if (patch) node = await this.#core.patchNode(self.name, patch);
    } catch (e) {
      const why = httpStatus(e) === 404 ? "no such Node object" : describe(e);
      throw new Error(`Cannot register node ${self.name}: ${why}`, { cause: e });
    }
    this.#self = self.name;
    if (specPodCidrs(node).length > 0) return nodeToInfo(node);
    return nodeToInfo(node, await this.#allocate(self.name));
  }

  async start(onChange: () => void): Promise<void> {
    this.#onChange = onChange;
    // While a list/watch waits out its backoff, a cheap probe wakes it once the server is back.
    this.#spawn(() =>
      probeUntilStopped({
        transport: this.#transport,
        clock: this.#clock,
        random: this.#random,
        signal: this.#stop.signal,
        waiting: () =>
          [
            ...[this.#nodes, this.#cm, this.#allocs].filter((w) => w !== undefined && w.backingOff),
            ...(this.policy?.backingOff() ?? []),
          ] as { retryNow(): void }[],
      })
    );
    await Promise.all([this.#nodes.start(), this.#cm.start(), this.#allocs?.start()]);
  }

  nodes(): NodeInfo[] {
    this.#snapshot ??= mergeProjections(this.#nodes.values(), this.#allocations());
    return [...this.#snapshot];
  }

  /** Pool addresses from IPAllocation objects; empty unless `watchAllocations`. */
  podAddresses(): PodAddress[] {
    return this.#allocs ? sortedPodAddresses(this.#allocs.values()) : [];
  }

  health(): DatastoreHealth {
    const states = [...this.#state.entries()];
    const down = states.find(([, s]) => !s.connected);
    const connected = states.length === (this.#allocs ? 3 : 2) && !down;
    // The state is a complete snapshot once every list/watch has listed; a fault after
    // that keeps the last good state (it never drops entries), so it stays authoritative.
    const authoritative = this.#nodes.synced && this.#cm.synced && (this.#allocs?.synced ?? true);
    const h: DatastoreHealth = { connected, events: this.#events, authoritative };
    const contact = this.#nodes.lastContactMs;
    if (contact !== undefined) h.lastContactMs = contact;
    if (down?.[1].error) h.lastError = `${down[0]}: ${down[1].error}`;
    return h;
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.all([
      this.#nodes.close(),
      this.#cm.close(),
      this.#allocs?.close(),
      this.policy?.close(),
    ]);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    this.#transport.close();
  }

  #allocations(): Allocations {
    return this.#cm.get(`${this.namespace}/${this.configMapName}`)?.allocations ?? new Map();
  }

  #setState(which: string, connected: boolean, error?: string): void {
    this.#state.set(which, { connected, error });
  }

  #changed(count: number): void {
    this.#events += count;
    this.#snapshot = undefined;
    this.#heal();
    try {
      this.#onChange();
    } catch (e) {
      this.#log(`kubernetes: onChange failed: ${describe(e)}`);
    }
  }

  #nodeChanges(changes: readonly Change<NodeProjection>[]): void {
    const allocs = this.#allocations();
    for (const c of changes) {
      if (c.type === "delete" && allocs.has(c.key)) {
        const name = c.key;
        this.#spawn(() => this.#release(name, this.#isFirst()));
      }
    }
    this.#changed(changes.length);
  }

  /** True when this agent's node has the lowest name among the nodes left. */
  #isFirst(): boolean {
    const self = this.#self;
    if (self === undefined) return false;
    for (const p of this.#nodes.values()) if (p.name !== "" && p.name < self) return false;
    return true;
  }

  /** Runs a background write; close() waits for it. */
  #spawn(fn: () => Promise<void>): void {
    const p: Promise<void> = fn()
      .catch((e) => {
        if (!this.#stop.signal.aborted) this.#log(`kubernetes: ${describe(e)}`);
      })
      .finally(() => this.#tasks.delete(p));
    this.#tasks.add(p);
  }

  /** Own allocation gone (e.g. Node deleted and re-created): take it again, same subnet if free. */
  #heal(): void {
    const self = this.#self;
    if (!self || this.#healing || this.#stop.signal.aborted || !this.#cm.synced) return;
    const node = this.#nodes.get(self);
    if (!node || node.specCidrs.length > 0 || this.#clusterCidrs.length === 0) return;
    if (this.#allocations().has(self)) return;
    this.#healing = true;
    this.#spawn(async () => {
      try {
        await this.#allocate(self);
      } finally {
        this.#healing = false;
      }
    });
  }

  async #readConfigMap(): Promise<ConfigMapLike | undefined> {
    try {
      return await this.#core.readNamespacedConfigMap(this.namespace, this.configMapName);
    } catch (e) {
      if (httpStatus(e) === 404) return undefined;
      throw e;
    }
  }

  async #specCidrs(): Promise<string[]> {
    const nodes = this.#nodes.synced
      ? this.#nodes.values()
      : (await this.#nodes.listOnce()).values();
    return [...nodes].flatMap((p) => [...p.specCidrs]);
  }

  /** Jittered exponential wait between two attempts of a conflicting write. */
  async #conflictPause(attempt: number): Promise<void> {
    this.#conflicts++;
    const ceiling = Math.min(1000, 10 * 2 ** Math.min(attempt, 7));
    await this.#clock.sleep(this.#random() * ceiling, this.#stop.signal);
    if (this.#stop.signal.aborted) throw new Error("Cannot write the ConfigMap: datastore closed");
  }

  /** Compare-and-swap on the ConfigMap until this node has an entry. */
  async #allocate(name: string): Promise<readonly string[]> {
    const clusterCidrs = this.#clusterCidrs;
    const where = `${this.namespace}/${this.configMapName}`;
    if (clusterCidrs.length === 0) {
      throw new Error(
        `Cannot allocate a pod subnet for ${name}: the Node has no spec.podCIDR and no cluster CIDR is configured`,
      );
    }
    const max = this.#opts.maxConflictRetries ?? 50;
    try {
      const specTaken = await this.#specCidrs();
      for (let attempt = 0;; attempt++) {
        const cm = await this.#readConfigMap();
        const allocs = parseAllocations(cm?.data);
        const mine = allocs.get(name);
        if (mine) return this.#lastAllocation = mine;
        const cidrs = assignSubnets({
          clusterCidrs,
          prefixLengths: { 4: this.#opts.nodePrefixV4, 6: this.#opts.nodePrefixV6 },
          taken: [...specTaken, ...[...allocs.values()].flat()],
          current: this.#lastAllocation,
        });
        const data = { ...cm?.data, [name]: formatAllocation(cidrs) };
        try {
          if (cm) {
            await this.#core.replaceNamespacedConfigMap(this.namespace, this.configMapName, {
              ...cm,
              data,
            });
          } else {
            await this.#core.createNamespacedConfigMap(this.namespace, {
              metadata: { name: this.configMapName, namespace: this.namespace },
              data,
            });
          }
          this.#log(`kubernetes: allocated ${data[name]} to node ${name} in ${where}`);
          return this.#lastAllocation = cidrs;
        } catch (e) {
          if (httpStatus(e) !== 409 || attempt + 1 >= max) throw e;
          await this.#conflictPause(attempt);
        }
      }
    } catch (e) {
      throw new Error(`Cannot allocate a pod subnet for ${name} in ${where}: ${describe(e)}`, {
        cause: e,
      });
    }
  }

  /** Removes a deleted node's entry; every agent may try, 409s just mean another one won. */
  async #release(name: string, first: boolean): Promise<void> {
    const max = this.#opts.maxConflictRetries ?? 50;
    if (!first) {
      const base = this.#opts.releaseDelayMs ?? 2000;
      await this.#clock.sleep(base + this.#random() * base, this.#stop.signal);
      if (this.#stop.signal.aborted || !this.#allocations().has(name)) return;
    }
    for (let attempt = 0;; attempt++) {
      const cm = await this.#readConfigMap();
      if (cm?.data?.[name] === undefined) return;
      const data = { ...cm.data };
      delete data[name];
      try {
        await this.#core.replaceNamespacedConfigMap(this.namespace, this.configMapName, {
          ...cm,
          data,
        });
        this.#log(`kubernetes: freed ${cm.data[name]} of deleted node ${name}`);
        return;
      } catch (e) {
        const status = httpStatus(e);
        if (status === 404) return;
        if (status !== 409 || attempt + 1 >= max) {
          throw new Error(`Cannot free the pod subnet of node ${name}: ${describe(e)}`, {
            cause: e,
          });
        }
        await this.#conflictPause(attempt);
      }
    }
  }
}
