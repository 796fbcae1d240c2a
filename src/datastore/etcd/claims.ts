/**
 * Subnet claims of the etcd datastore: `<prefix>subnets/<cidr>` holds the
 * owner's name. A claim is created only if the key does not exist (a
 * transaction on its create revision), so of two agents racing for a subnet
 * exactly one wins and the other picks the next free one. Claims carry no
 * lease: a node that comes back after its entry expired finds its subnet again.
 * @module
 */

import type { Etcd3 } from "etcd3";
import type { EtcdKeys } from "./support.ts";
import {
  allocateSubnet,
  cidrCovers,
  cidrFamily,
  type Family,
  normalizeCidr,
  SubnetExhaustedError,
} from "../subnets.ts";

/** One stored claim. */
export interface Claim {
  cidr: string;
  owner: string;
  key: string;
  modRevision: string;
}

/** Options of `SubnetClaims`. */
export interface SubnetClaimsOptions {
  client: Etcd3;
  keys: EtcdKeys;
  /** One normalized CIDR per family. */
  clusterCidrs: readonly string[];
  prefixLengths: Record<Family, number>;
  log: (msg: string) => void;
}

const MAX_CLAIM_ROUNDS = 64;

/** Claims, lists and releases pod subnets in etcd. */
export class SubnetClaims {
  readonly #o: SubnetClaimsOptions;

  constructor(opts: SubnetClaimsOptions) {
    this.#o = opts;
  }

  /** Every valid claim; foreign keys under the prefix are logged and ignored. */
  async list(): Promise<Claim[]> {
    const { client, keys } = this.#o;
    const res = await client.getAll().prefix(keys.subnets).exec();
    const out: Claim[] = [];
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      try {
        const cidr = normalizeCidr(key.slice(keys.subnets.length));
        out.push({ cidr, owner: kv.value.toString(), key, modRevision: kv.mod_revision });
      } catch {
        this.#o.log(`hostgate datastore etcd: ignoring foreign key ${key}`);
      }
    }
    return out;
  }

  #fits(cidr: string, cluster: string): boolean {
    const family = cidrFamily(cluster);
    return cidrFamily(cidr) === family && cidrCovers(cluster, cidr) &&
      Number(cidr.slice(cidr.indexOf("/") + 1)) === this.#o.prefixLengths[family];
  }

  /**
   * One subnet per cluster family for `name`: the ones it already claimed, or
   * new claims. Claims of `name` that no longer fit the config are released.
   * Throws `SubnetExhaustedError` when a family has nothing left.
   */
  async claim(name: string): Promise<string[]> {
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const claims = await this.list();
      const result: string[] = [];
      let lost = false;
      for (const cluster of this.#o.clusterCidrs) {
        const mine = claims.find((c) => c.owner === name && this.#fits(c.cidr, cluster));
        if (mine) {
          result.push(mine.cidr);
          continue;
        }
        const prefixLength = this.#o.prefixLengths[cidrFamily(cluster)];
        const free = allocateSubnet({
          clusterCidr: cluster,
          prefixLength,
          taken: claims.map((c) => c.cidr),
        });
        const won = free !== undefined
          ? await this.#create(free, name)
          : await this.#reclaimStale(claims, cluster, name);
        if (won === undefined) throw new SubnetExhaustedError(cluster, prefixLength);
        if (won === false) {
          lost = true; // another node was faster: read the claims again
          break;
        }
        result.push(won);
      }
      if (lost) continue;
      for (const c of claims) {
        if (c.owner === name && !result.includes(c.cidr)) await this.release(c);
      }
      return result;
    }
    throw new Error(`Cannot allocate pod subnet: lost ${MAX_CLAIM_ROUNDS} claim races in a row`);
  }

  /** Releases every claim of `name`. */
  async releaseAll(name: string): Promise<void> {
    for (const c of await this.list()) if (c.owner === name) await this.release(c);
  }

  /** Deletes a claim if it still belongs to its owner. */
  async release(c: Claim): Promise<void> {
    const { client } = this.#o;
    await client.if(c.key, "Value", "==", c.owner).then(client.delete().key(c.key)).commit();
  }

  async #create(cidr: string, name: string): Promise<string | false> {
    const { client, keys } = this.#o;
    const key = keys.subnet(cidr);
    const res = await client.if(key, "Create", "==", 0).then(client.put(key).value(name)).commit();
    return res.succeeded ? cidr : false;
  }

  /**
   * Takes over a claim whose owner has no node entry (expired or removed),
   * atomically with both facts still true. undefined: nothing to reclaim.
   */
  async #reclaimStale(claims: Claim[], cluster: string, name: string) {
    const { client, keys } = this.#o;
    const live = new Set(
      (await client.getAll().prefix(keys.nodes).keys()).map((k) => k.slice(keys.nodes.length)),
    );
    const stale = claims.find((c) => !live.has(c.owner) && this.#fits(c.cidr, cluster));
    if (!stale) return undefined;
    const res = await client.if(stale.key, "Mod", "==", stale.modRevision)
      .and(keys.node(stale.owner), "Create", "==", 0)
      .then(client.put(stale.key).value(name)).commit();
    if (res.succeeded) {
      this.#o.log(`hostgate datastore etcd: reclaimed ${stale.cidr} from ${stale.owner}`);
    }
    return res.succeeded ? stale.cidr : false;
  }
}
