/**
 * `hostgate-ippool`: one address pool for the whole cluster, kept in the
 * Kubernetes API as an IPPool (the ranges) and one IPAllocation per address
 * handed out (see objects.ts for why one object per address).
 *
 * ADD, per address family of the pool:
 * 1. the container already holds one (a repeated ADD): return it;
 * 2. sticky: the pod (namespace/name) held or released one before, on any
 *    node: take it over (update with its resourceVersion);
 * 3. a random free address: create its object; 409 AlreadyExists means
 *    another node won it, so draw again (a few blind draws keep the cost at
 *    two round trips on a sparse pool);
 * 4. then with the whole pool listed: a random address with no object at
 *    all, else reclaim: a released one, or one held by a pod that no longer
 *    exists or has finished (Succeeded/Failed); a lost race re-lists;
 * 5. nothing left: PoolExhaustedError (code 100).
 * An unreachable or failing API server is code 11 with nothing changed.
 * @module
 */
import { CniCode, CniError } from "../../errors.ts";
import { addressOf, type Family, tryParseIp } from "../../net/mod.ts";
import { IpamCheckError, IpamRequestError } from "../errors.ts";
import { PoolExhaustedError } from "./errors.ts";
import type { Attachment, Ipam, IpamOwner, IpamResult } from "../types.ts";
import {
  cryptoRandomBelow,
  pickFree,
  podReleasesAddress,
  type RandomBelow,
  reclaimOrder,
} from "./allocator.ts";
import { isStatus, KubeApiError, type KubeClient, KubeUnavailableError } from "./client.ts";
import type { IppoolConfig } from "./config.ts";
import {
  type Allocation,
  allocationObject,
  heldBy,
  LABEL_CONTAINER,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POOL,
  nodeKey,
  type OwnerKeys,
  ownerKeys,
  parseAllocation,
  releasedObject,
  selector,
} from "./objects.ts";
import { describePool, parsePool, type Pool, poolFamilies, subFor } from "./pool.ts";

/** Options of an IppoolIpam. */
export interface IppoolIpamOptions {
  config: IppoolConfig;
  /** Builds the API client on first use (reads the kubeconfig). */
  connect: () => Promise<KubeClient>;
  /** This node's name when the config has none (the host name). */
  hostname: () => string;
  random?: RandomBelow;
  /** Blind random creates before listing the whole pool; default 4. */
  blindDraws?: number;
  /** Rounds over the whole pool before giving up with code 11; default 16. */
  maxRounds?: number;
}

interface AddCtx {
  api: KubeClient;
  pool: Pool;
  owner: IpamOwner;
  keys: OwnerKeys;
  node: string;
  nodeKey: string;
}

/** Released allocations fetched at once when random draws keep colliding. */
const RELEASED_BATCH = 32;

function unexpected(e: unknown): unknown {
  return e instanceof KubeApiError
    ? new CniError(CniCode.Internal, e.message, "", { cause: e })
    : e;
}

/** The IPPool IPAM backend. */
export class IppoolIpam implements Ipam {
  readonly config: IppoolConfig;
  readonly #connect: () => Promise<KubeClient>;
  readonly #hostname: () => string;
  readonly #random: RandomBelow;
  readonly #blind: number;
  readonly #rounds: number;
  #client?: Promise<KubeClient>;

  constructor(opts: IppoolIpamOptions) {
    this.config = opts.config;
    this.#connect = opts.connect;
    this.#hostname = opts.hostname;
    this.#random = opts.random ?? cryptoRandomBelow;
    this.#blind = opts.blindDraws ?? 4;
    this.#rounds = opts.maxRounds ?? 16;
  }

  #api(): Promise<KubeClient> {
    return this.#client ??= this.#connect();
  }

  /** The node name allocations are recorded with (GC releases only these). */
  get nodeName(): string {
    return this.config.nodeName ?? this.#hostname().toLowerCase();
  }

  async #getPool(api: KubeClient): Promise<Pool> {
    let obj: unknown;
    try {
      obj = await api.kube({
        verb: "get",
        group: "hostgate.io",
        resource: "ippools",
        name: this.config.pool,
      });
    } catch (e) {
      if (isStatus(e, 404)) {
        throw new CniError(
          CniCode.InvalidNetworkConfig,
          `Cannot find IPPool ${this.config.pool}: no such IPPool in the cluster`,
        );
      }
      throw unexpected(e);
    }
    return parsePool(obj);
  }

  /**
   * This pool's allocations with the given labels; `released` adds "has no
   * container label" (Released ones), `limit` caps the answer (any N of them).
   */
  async #list(
    api: KubeClient,
    labels: Record<string, string>,
    opts: { released?: boolean; limit?: number } = {},
  ): Promise<Allocation[]> {
    let labelSelector = selector({ [LABEL_POOL]: this.config.pool, ...labels });
    if (opts.released) labelSelector += `,!${LABEL_CONTAINER}`;
    let body: unknown;
    try {
      body = await api.kube({
        verb: "list",
        group: "hostgate.io",
        resource: "ipallocations",
        labelSelector,
        limit: opts.limit,
      });
    } catch (e) {
      throw unexpected(e);
    }
    const items = (body as { items?: unknown[] } | null)?.items ?? [];
    return items.map(parseAllocation).filter((a): a is Allocation =>
      a !== undefined && a.pool === this.config.pool
    ).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Creates the object of `ip` for the owner; undefined when another node holds it (409). */
  async #create(ctx: AddCtx, ip: string): Promise<Allocation | undefined> {
    try {
      const made = await ctx.api.kube({
        verb: "create",
        group: "hostgate.io",
        resource: "ipallocations",
        body: allocationObject({ ...ctx, pool: ctx.pool.name, ip }),
      });
      return parseAllocation(made);
    } catch (e) {
      if (isStatus(e, 409)) return undefined;
      throw unexpected(e);
    }
  }

  /** Takes over `old` for the owner; undefined when it changed meanwhile (409) or is gone. */
  async #takeOver(ctx: AddCtx, old: Allocation): Promise<Allocation | undefined> {
    try {
      const made = await ctx.api.kube({
        verb: "update",
        group: "hostgate.io",
        resource: "ipallocations",
        name: old.name,
        body: allocationObject({
          ...ctx,
          pool: ctx.pool.name,
          ip: old.ip,
          resourceVersion: old.resourceVersion,
        }),
      });
      return parseAllocation(made);
    } catch (e) {
      if (isStatus(e, 409) || isStatus(e, 404)) return undefined;
      throw unexpected(e);
    }
  }

  /**
   * Releases `a`: a pod's address is kept as Released (its next ADD finds it
   * again), any other is deleted. False when it changed meanwhile (409).
   */
  async #release(api: KubeClient, a: Allocation): Promise<boolean> {
    try {
      if (a.podName && a.podNamespace) {
        await api.kube({
          verb: "update",
          group: "hostgate.io",
          resource: "ipallocations",
          name: a.name,
          body: releasedObject(a),
        });
      } else {
        await api.kube({
          verb: "delete",
          group: "hostgate.io",
          resource: "ipallocations",
          name: a.name,
          resourceVersion: a.resourceVersion,
        });
      }
      return true;
    } catch (e) {
      if (isStatus(e, 404)) return true;
      if (isStatus(e, 409)) return false;
      throw unexpected(e);
    }
  }

  /** The phase of the pod holding `a`; undefined when the pod does not exist. */
  async #podPhase(api: KubeClient, a: Allocation): Promise<string | undefined> {
    try {
      const pod = await api.kube({
        verb: "get",
        group: "",
        resource: "pods",
        namespace: a.podNamespace!,
        name: a.podName!,
      }) as { status?: { phase?: string } };
      return pod.status?.phase ?? "Pending";
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw unexpected(e);
    }
  }

  /** True when `a` may be taken from its holder (released, or its pod gone or finished). */
  async #reclaimable(api: KubeClient, a: Allocation): Promise<boolean> {
    return a.state === "Released" || podReleasesAddress(await this.#podPhase(api, a));
  }

  async add(owner: IpamOwner, opts: { requestedIps?: string[] } = {}): Promise<IpamResult> {
    const asked = opts.requestedIps?.[0];
    if (asked !== undefined) {
      throw new IpamRequestError(asked, "hostgate-ippool hands out addresses of its pool only");
    }
    const api = await this.#api();
    const keys = await ownerKeys(owner);
    // With a pod, its list also holds this container's allocations (they carry both labels).
    const [pool, mine] = await Promise.all([
      this.#getPool(api),
      this.#list(api, keys.pod ? { [LABEL_POD]: keys.pod } : { [LABEL_CONTAINER]: keys.container }),
    ]);
    const node = this.nodeName;
    const ctx: AddCtx = { api, pool, owner, keys, node, nodeKey: await nodeKey(node) };
    const got: Allocation[] = [];
    const made: Allocation[] = [];
    try {
      for (const family of poolFamilies(pool)) {
        const held = mine.find((a) =>
          a.family === family && heldBy(a, owner) && subFor(pool, a.ip)
        );
        if (held) {
          got.push(held);
          continue;
        }
        const sticky = mine.filter((a) =>
          a.family === family && keys.pod !== undefined && !heldBy(a, owner) &&
          a.podNamespace === owner.podNamespace &&
          a.podName === owner.podName && subFor(pool, a.ip)
        );
        const a = await this.#allocate(ctx, family, sticky);
        got.push(a);
        made.push(a);
      }
    } catch (e) {
      // One family failed: give back what this call took of the others.
      for (const a of made) await this.#release(api, a).catch(() => false);
      throw e;
    }
    const result: IpamResult = {
      ips: got.map((a) => {
        const sub = subFor(pool, a.ip)!;
        return { family: a.family, address: `${a.ip}/${sub.prefix}`, gateway: sub.gateway };
      }),
      routes: this.config.routes.map((r) => ({ ...r })),
    };
    if (this.config.dns) result.dns = structuredClone(this.config.dns);
    return result;
  }

  async #allocate(ctx: AddCtx, family: Family, sticky: Allocation[]): Promise<Allocation> {
    for (const old of sticky) {
      const a = await this.#takeOver(ctx, old);
      if (a) return a;
    }
    const subs = ctx.pool.subs.filter((s) => s.family === family);
    const taken = new Set<bigint>();
    const draw = (seen: Set<bigint>) =>
      pickFree({ subs, family, taken: seen, random: this.#random });
    for (let i = 0; i < this.#blind; i++) {
      const ip = draw(taken);
      if (ip === undefined) break;
      const a = await this.#create(ctx, ip);
      if (a) return a;
      taken.add(tryParseIp(ip)!.value);
    }
    // Dense pool: before listing all of it, try a few released addresses (pods that left).
    const released = (await this.#list(ctx.api, {}, { released: true, limit: RELEASED_BATCH }))
      .filter((a) => a.family === family && a.state === "Released" && subFor(ctx.pool, a.ip));
    for (const c of reclaimOrder(released, this.#random)) {
      const a = await this.#takeOver(ctx, c);
      if (a) return a;
    }
    for (let round = 0; round < this.#rounds; round++) {
      const all = (await this.#list(ctx.api, {})).filter((a) => a.family === family);
      const seen = new Set([...taken, ...all.map((a) => a.value)]);
      const ip = draw(seen);
      if (ip !== undefined) {
        const a = await this.#create(ctx, ip);
        if (a) return a;
        taken.add(tryParseIp(ip)!.value);
        continue;
      }
      let raced = false;
      for (const c of reclaimOrder(all.filter((a) => subFor(ctx.pool, a.ip)), this.#random)) {
        if (!(await this.#reclaimable(ctx.api, c))) continue;
        const a = await this.#takeOver(ctx, c);
        if (a) return a;
        raced = true;
        break;
      }
      if (!raced) {
        throw new PoolExhaustedError(ctx.pool.name, family, describePool(ctx.pool, family));
      }
    }
    throw new KubeUnavailableError(
      `Cannot allocate from IPPool ${ctx.pool.name}: ${this.#rounds} rounds lost to concurrent allocations`,
    );
  }

  async del(owner: IpamOwner): Promise<void> {
    const api = await this.#api();
    const keys = await ownerKeys(owner);
    for (let round = 0; round < this.#rounds; round++) {
      const held = (await this.#list(api, { [LABEL_CONTAINER]: keys.container }))
        .filter((a) => heldBy(a, owner));
      let again = false;
      for (const a of held) if (!(await this.#release(api, a))) again = true;
      if (!again) return;
    }
    throw new KubeUnavailableError(
      `Cannot release the addresses of ${owner.containerId}/${owner.ifname}: they keep changing`,
    );
  }

  async check(owner: IpamOwner, ips: string[]): Promise<void> {
    const api = await this.#api();
    const keys = await ownerKeys(owner);
    const held = (await this.#list(api, { [LABEL_CONTAINER]: keys.container }))
      .filter((a) => heldBy(a, owner)).map((a) => a.ip);
    const who = `${owner.containerId}/${owner.ifname}`;
    if (held.length === 0) {
      throw new IpamCheckError(`Cannot find an IPPool allocation: ${who} holds none`);
    }
    for (const text of ips) {
      let ip: string;
      try {
        ip = addressOf(text);
      } catch {
        throw new IpamCheckError(`Cannot check IP ${JSON.stringify(text)}: not an address`);
      }
      if (!held.includes(ip)) {
        throw new IpamCheckError(
          `Cannot find an IPPool allocation: ${who} does not hold ${ip} (holds ${held.join(", ")})`,
        );
      }
    }
  }

  async gc(valid: Attachment[]): Promise<void> {
    const api = await this.#api();
    const node = this.nodeName;
    const keep = new Set(valid.map((v) => `${v.containerId}\n${v.ifname}`));
    const ours = await this.#list(api, { [LABEL_NODE]: await nodeKey(node) });
    for (const a of ours) {
      if (a.state !== "Allocated" || a.node !== node) continue;
      if (keep.has(`${a.containerId}\n${a.ifname}`)) continue;
      // A 409 means it changed hands meanwhile: no longer this node's to collect.
      await this.#release(api, a);
    }
  }

  /**
   * Throws when an ADD could not be served now: the API unusable (code 11),
   * the pool missing (7), or some family of the pool without a free or
   * reclaimable address (PoolExhaustedError). The plugin answers all with 50.
   */
  async status(): Promise<void> {
    const api = await this.#api();
    const [pool, all] = await Promise.all([this.#getPool(api), this.#list(api, {})]);
    for (const family of poolFamilies(pool)) {
      const ofFamily = all.filter((a) => a.family === family);
      const subs = pool.subs.filter((s) => s.family === family);
      const taken = new Set(ofFamily.map((a) => a.value));
      if (pickFree({ subs, family, taken, random: this.#random }) !== undefined) continue;
      let found = false;
      for (const c of reclaimOrder(ofFamily.filter((a) => subFor(pool, a.ip)), this.#random)) {
        if (await this.#reclaimable(api, c)) {
          found = true;
          break;
        }
      }
      if (!found) throw new PoolExhaustedError(pool.name, family, describePool(pool, family));
    }
  }
}
