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
 *    another node won it (or a released object sits there), so draw again:
 *    a few blind draws keep a sparse pool at two round trips per ADD;
 * 4. still nothing (a dense pool): take one of a few Released allocations
 *    (a list with a limit, not the whole pool);
 * 5. then with the whole pool listed: a random address with no object at
 *    all, else reclaim: a released one, or one held by a pod that no longer
 *    exists or has finished (Succeeded/Failed); a lost race re-lists;
 * 6. nothing left: PoolExhaustedError (code 100).
 * Steps 1 and 2 share one list (the pod's label; the container's without a pod).
 * An unreachable or failing API server is code 11 with nothing changed.
 * @module
 */
import { type Family, tryParseIp } from "../../net/mod.ts";
import { IpamCheckError, IpamRequestError, requireHeld } from "../errors.ts";
import type { Attachment, Ipam, IpamOwner, IpamResult } from "../types.ts";
import { cryptoRandomBelow, pickFree, type RandomBelow, reclaimOrder } from "./allocator.ts";
import { type KubeClient, KubeUnavailableError } from "./client.ts";
import type { IppoolConfig } from "./config.ts";
import { PoolExhaustedError } from "./errors.ts";
import {
  type Allocation,
  type AllocationInput,
  heldBy,
  LABEL_CONTAINER,
  LABEL_NODE,
  LABEL_POD,
  nodeKey,
  type OwnerKeys,
  ownerKeys,
} from "./objects.ts";
import { describePool, type Pool, poolFamilies, subFor } from "./pool.ts";
import { AllocationStore } from "./store.ts";

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
  api: AllocationStore;
  pool: Pool;
  owner: IpamOwner;
  keys: OwnerKeys;
  node: string;
  nodeKey: string;
}

/** Released allocations fetched at once when random draws keep colliding. */
const RELEASED_BATCH = 32;
/** Blind random creates before listing the whole pool (a sparse pool needs one or two). */
const DEFAULT_BLIND_DRAWS = 4;
/** Rounds over the whole pool lost to other nodes before giving up with code 11. */
const DEFAULT_MAX_ROUNDS = 16;

/** The IPPool IPAM backend. */
export class IppoolIpam implements Ipam {
  readonly config: IppoolConfig;
  readonly #connect: () => Promise<KubeClient>;
  readonly #hostname: () => string;
  readonly #random: RandomBelow;
  readonly #blind: number;
  readonly #rounds: number;
  #store?: Promise<AllocationStore>;

  constructor(opts: IppoolIpamOptions) {
    this.config = opts.config;
    this.#connect = opts.connect;
    this.#hostname = opts.hostname;
    this.#random = opts.random ?? cryptoRandomBelow;
    this.#blind = opts.blindDraws ?? DEFAULT_BLIND_DRAWS;
    this.#rounds = opts.maxRounds ?? DEFAULT_MAX_ROUNDS;
  }

  #api(): Promise<AllocationStore> {
    return this.#store ??= this.#connect().then((c) => new AllocationStore(c, this.config.pool));
  }

  /** The node name allocations are recorded with (GC releases only these). */
  get nodeName(): string {
    return this.config.nodeName ?? this.#hostname().toLowerCase();
  }

  #input(ctx: AddCtx, ip: string): AllocationInput {
    return {
      pool: ctx.pool.name,
      ip,
      node: ctx.node,
      nodeKey: ctx.nodeKey,
      owner: ctx.owner,
      keys: ctx.keys,
    };
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
      api.getPool(),
      api.list(keys.pod ? { [LABEL_POD]: keys.pod } : { [LABEL_CONTAINER]: keys.container }),
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
      for (const a of made) await api.release(a).catch(() => false);
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
      const a = await ctx.api.takeOver(old, this.#input(ctx, old.ip));
      if (a) return a;
    }
    const subs = ctx.pool.subs.filter((s) => s.family === family);
    const taken = new Set<bigint>();
    const draw = (seen: Set<bigint>) =>
      pickFree({ subs, family, taken: seen, random: this.#random });
    for (let i = 0; i < this.#blind; i++) {
      const ip = draw(taken);
      if (ip === undefined) break;
      const a = await ctx.api.create(this.#input(ctx, ip));
      if (a) return a;
      taken.add(tryParseIp(ip)!.value);
    }
    // Dense pool: before listing all of it, try a few released addresses (pods that left).
    const released = (await ctx.api.list({}, { released: true, limit: RELEASED_BATCH }))
      .filter((a) => a.family === family && a.state === "Released" && subFor(ctx.pool, a.ip));
    for (const c of reclaimOrder(released, this.#random)) {
      const a = await ctx.api.takeOver(c, this.#input(ctx, c.ip));
      if (a) return a;
    }
    for (let round = 0; round < this.#rounds; round++) {
      const all = (await ctx.api.list({})).filter((a) => a.family === family);
      const seen = new Set([...taken, ...all.map((a) => a.value)]);
      const ip = draw(seen);
      if (ip !== undefined) {
        const a = await ctx.api.create(this.#input(ctx, ip));
        if (a) return a;
        taken.add(tryParseIp(ip)!.value);
        continue;
      }
      let raced = false;
      for (const c of reclaimOrder(all.filter((a) => subFor(ctx.pool, a.ip)), this.#random)) {
        if (!(await ctx.api.reclaimable(c))) continue;
        const a = await ctx.api.takeOver(c, this.#input(ctx, c.ip));
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
      const held = (await api.list({ [LABEL_CONTAINER]: keys.container }))
        .filter((a) => heldBy(a, owner));
      let again = false;
      for (const a of held) if (!(await api.release(a))) again = true;
      if (!again) return;
    }
    throw new KubeUnavailableError(
      `Cannot release the addresses of ${owner.containerId}/${owner.ifname}: they keep changing`,
    );
  }

  async check(owner: IpamOwner, ips: string[]): Promise<void> {
    const api = await this.#api();
    const keys = await ownerKeys(owner);
    const held = (await api.list({ [LABEL_CONTAINER]: keys.container }))
      .filter((a) => heldBy(a, owner)).map((a) => a.ip);
    const who = `${owner.containerId}/${owner.ifname}`;
    if (held.length === 0) {
      throw new IpamCheckError(`Cannot find an IPPool allocation: ${who} holds none`);
    }
    requireHeld({ what: "an IPPool allocation", who, held, ips });
  }

  async gc(valid: Attachment[]): Promise<void> {
    const api = await this.#api();
    const node = this.nodeName;
    const keep = new Set(valid.map((v) => `${v.containerId}\n${v.ifname}`));
    const ours = await api.list({ [LABEL_NODE]: await nodeKey(node) });
    for (const a of ours) {
      if (a.state !== "Allocated" || a.node !== node) continue;
      if (keep.has(`${a.containerId}\n${a.ifname}`)) continue;
      // A 409 means it changed hands meanwhile: no longer this node's to collect.
      await api.release(a);
    }
  }

  /**
   * Throws when an ADD could not be served now: the API unusable (code 11),
   * the pool missing (7), or some family of the pool without a free or
   * reclaimable address (PoolExhaustedError). The plugin answers all with 50.
   */
  async status(): Promise<void> {
    const api = await this.#api();
    const [pool, all] = await Promise.all([api.getPool(), api.list({})]);
    for (const family of poolFamilies(pool)) {
      const ofFamily = all.filter((a) => a.family === family);
      const subs = pool.subs.filter((s) => s.family === family);
      const taken = new Set(ofFamily.map((a) => a.value));
      if (pickFree({ subs, family, taken, random: this.#random }) !== undefined) continue;
      let found = false;
      for (const c of reclaimOrder(ofFamily.filter((a) => subFor(pool, a.ip)), this.#random)) {
        if (await api.reclaimable(c)) {
          found = true;
          break;
        }
      }
      if (!found) throw new PoolExhaustedError(pool.name, family, describePool(pool, family));
    }
  }
}
