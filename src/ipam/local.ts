/**
 * `hostgate-local`: the built-in IPAM (no extra process on the per-pod path).
 * Binds the allocator to a Store and renders results; every operation runs
 * under the store lock.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { tryParseIp } from "../net/mod.ts";
import { allocate, type Layout, layoutOf, podOf } from "./allocator.ts";
import type { LocalIpamConfig } from "./config.ts";
import {
  ioFailure,
  IpamCheckError,
  IpamExhaustedError,
  IpamUnavailableError,
  requireHeld,
} from "./errors.ts";
import { describeRangeSet, freeCount } from "./range.ts";
import { type Store, validKeyPredicate } from "./store.ts";
import type { Attachment, Ipam, IpamOwner, IpamResult } from "./types.ts";

/** Options of a LocalIpam. */
export interface LocalIpamOptions {
  config: LocalIpamConfig;
  store: Store;
  /** Addresses to request when `add` is called without `requestedIps`. */
  defaultRequestedIps?: readonly string[];
}

/** The built-in host-local compatible IPAM. */
export class LocalIpam implements Ipam {
  readonly config: LocalIpamConfig;
  readonly #store: Store;
  readonly #layout: Layout;
  readonly #defaultRequested: readonly string[];

  constructor(opts: LocalIpamOptions) {
    this.config = opts.config;
    this.#store = opts.store;
    this.#layout = layoutOf(opts.config);
    this.#defaultRequested = opts.defaultRequestedIps ?? [];
  }

  async add(owner: IpamOwner, opts: { requestedIps?: string[] } = {}): Promise<IpamResult> {
    const store = this.#store;
    const locked = async () => {
      await store.prepareAllocate?.(podOf(owner));
      return await store.withLock(() =>
        allocate({
          store,
          layout: this.#layout,
          owner,
          requestedIps: opts.requestedIps ?? this.#defaultRequested,
        })
      );
    };
    const allocs = await locked().catch((e) => {
      throw ioFailure(`allocate an IP address for ${owner.containerId}/${owner.ifname}`, e);
    });
    const result: IpamResult = {
      ips: allocs.map((a) => ({
        family: a.range.subnet.family,
        address: `${a.ip}/${a.range.subnet.prefix}`,
        gateway: a.range.gateway,
      })),
      routes: this.config.routes.map((r) => ({ ...r })),
    };
    if (this.config.dns) result.dns = structuredClone(this.config.dns);
    return result;
  }

  /**
   * Releases the owner's addresses. When the store cannot be written (a
   * read-only or broken dataDir), DEL still succeeds if the owner truly holds
   * nothing (read without the lock); only a reservation that stays behind is
   * an error, naming the addresses, so the runtime does not retry for ever
   * over nothing.
   */
  async del(owner: IpamOwner): Promise<void> {
    const who = `${owner.containerId}/${owner.ifname}`;
    await this.#store.withLock(() => this.#store.releaseByOwner(owner)).catch(async (e) => {
      const held = await this.#store.findByOwner(owner).catch(() => undefined);
      if (held !== undefined && held.length === 0) return;
      const what = held ? held.join(", ") : "the addresses";
      const why = e instanceof Error ? e.message : String(e);
      throw new CniError(
        CniCode.IoFailure,
        `Cannot release ${what} of ${who}: ${why}`,
        "the reservation stays until the store is writable again and DEL or GC runs",
        { cause: e },
      );
    });
  }

  async check(owner: IpamOwner, ips: string[]): Promise<void> {
    const held = await this.#store.withLock(() => this.#store.findByOwner(owner)).catch((e) => {
      throw ioFailure(`read the addresses of ${owner.containerId}/${owner.ifname}`, e);
    });
    const who = `${owner.containerId}/${owner.ifname}`;
    if (ips.length === 0 && held.length === 0) {
      throw new IpamCheckError(`Cannot find an IPAM reservation: ${who} holds none`);
    }
    requireHeld({ what: "an IPAM reservation", who, held, ips });
  }

  async gc(valid: Attachment[]): Promise<void> {
    const isValid = validKeyPredicate(valid);
    await this.#store.withLock(() => this.#store.gc(isValid)).catch((e) => {
      throw ioFailure("collect stale IPAM reservations", e);
    });
  }

  /**
   * Throws IpamUnavailableError when the store cannot be written, and
   * IpamExhaustedError when some range set has no free address (an ADD needs
   * one address from every range set). The plugin answers both with code 50.
   */
  async status(): Promise<void> {
    await this.#store.probe();
    const names = await this.#store.withLock(() => this.#store.reservedIps()).catch((e) => {
      throw new IpamUnavailableError(`Cannot read the IPAM store: ${(e as Error).message}`, "", {
        cause: e,
      });
    });
    let taken: Record<4 | 6, Set<bigint>> | undefined;
    this.#layout.rangeSets.forEach((set, i) => {
      const ex = this.#layout.excluded[set.family];
      // Each reservation uses at most one address: fewer files than capacity means room.
      if (BigInt(names.size) < freeCount(set, ex, new Set())) return;
      if (!taken) {
        taken = { 4: new Set(), 6: new Set() };
        for (const n of names) {
          const p = tryParseIp(n);
          if (p) taken[p.family].add(p.value);
        }
      }
      if (freeCount(set, ex, taken[set.family]) <= 0n) {
        throw new IpamExhaustedError(i, describeRangeSet(set));
      }
    });
  }
}
