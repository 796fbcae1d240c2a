/**
 * The allocator: host-local's semantics over the `Store` interface, no other
 * effect. Per range set, in order of precedence: the owner's existing address
 * (ADD is idempotent), a requested address, the pod's sticky address when
 * free, else round-robin after `last_reserved_ip.<n>`. The gateway, network
 * and broadcast addresses and `reservedRanges` are never handed out.
 * Callers hold the store lock (`Store.withLock`).
 * @module
 */
import {
  addressOf,
  bigIntToIp,
  type Family,
  type IpRange,
  type ParsedIp,
  parseIp,
  tryParseIp,
} from "../net/mod.ts";
import type { LocalIpamConfig } from "./config.ts";
import { ioFailure, IpamExhaustedError, IpamRequestError } from "./errors.ts";
import {
  type AllocRange,
  candidates,
  describeRangeSet,
  exclusions,
  isExcluded,
  rangeFor,
  rangeForIp,
  type RangeSet,
} from "./range.ts";
import type { Claim, PodRef, Store } from "./store.ts";
import type { IpamOwner } from "./types.ts";

/** Range sets plus their exclusions, computed once per config. */
export interface Layout {
  rangeSets: readonly RangeSet[];
  excluded: Readonly<Record<Family, IpRange[]>>;
}

/** Precomputes what every allocation needs from a config (pure). */
export function layoutOf(config: Pick<LocalIpamConfig, "rangeSets" | "reservedRanges">): Layout {
  return {
    rangeSets: config.rangeSets,
    excluded: {
      4: exclusions(config.rangeSets, config.reservedRanges, 4),
      6: exclusions(config.rangeSets, config.reservedRanges, 6),
    },
  };
}

/** One address of an ADD result. */
export interface Allocation {
  rangeSetIndex: number;
  ip: string;
  range: AllocRange;
  /** True when this ADD reserved it (false: the owner already held it). */
  fresh: boolean;
}

/** The pod of an owner, when the runtime told us (sticky IPs). */
export function podOf(owner: IpamOwner): PodRef | undefined {
  return owner.podNamespace && owner.podName
    ? { namespace: owner.podNamespace, name: owner.podName }
    : undefined;
}

/**
 * Reserved addresses, looked up by formatting the candidate (cheap while few
 * candidates are tried, the common case after round-robin) and by value once
 * a walk gets long (near exhaustion), so a full /16 is not formatted 65k times.
 */
/** Lookups by value after which TakenIndex parses every name once instead of formatting. */
const INDEX_AFTER_LOOKUPS = 64;
/** Lost races for a round-robin pick tolerated before ADD gives up (requested ones: none). */
const MAX_LOST_RACES = 8;

class TakenIndex {
  readonly #names: Set<string>;
  #values: Set<string> | undefined;
  #lookups = 0;
  constructor(names: ReadonlySet<string>) {
    this.#names = new Set(names);
  }
  has(family: Family, v: bigint): boolean {
    if (!this.#values && ++this.#lookups > INDEX_AFTER_LOOKUPS) {
      this.#values = new Set();
      for (const n of this.#names) {
        const p = tryParseIp(n);
        if (p) this.#values.add(`${p.family}:${p.value}`);
      }
    }
    return this.#values
      ? this.#values.has(`${family}:${v}`)
      : this.#names.has(bigIntToIp(family, v));
  }
  hasText(ip: string): boolean {
    const p = tryParseIp(ip);
    return p !== undefined && this.has(p.family, p.value);
  }
  add(ip: string): void {
    this.#names.add(ip);
    const p = tryParseIp(ip);
    if (p && this.#values) this.#values.add(`${p.family}:${p.value}`);
  }
}

/** Maps requested addresses to range sets; throws IpamRequestError for unusable ones. */
export function assignRequested(layout: Layout, requested: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const text of requested) {
    let p: ParsedIp;
    try {
      p = parseIp(addressOf(text));
    } catch {
      throw new IpamRequestError(String(text), "not an IP address");
    }
    const i = layout.rangeSets.findIndex((s) => rangeFor(s, p.family, p.value) !== undefined);
    if (i < 0) throw new IpamRequestError(p.text, "not in any range set");
    const set = layout.rangeSets[i]!;
    const r = rangeFor(set, p.family, p.value)!;
    if (p.value === r.gatewayValue) throw new IpamRequestError(p.text, "is the gateway");
    if (isExcluded(layout.excluded[p.family], p.value)) {
      throw new IpamRequestError(
        p.text,
        "is reserved (reservedRanges, gateway, network or broadcast)",
      );
    }
    const prev = out.get(i);
    if (prev !== undefined && prev !== p.text) {
      throw new IpamRequestError(p.text, `range set ${i} already gets requested ${prev}`);
    }
    out.set(i, p.text);
  }
  return out;
}

/** Options of `allocate`. */
export interface AllocateOptions {
  store: Store;
  layout: Layout;
  owner: IpamOwner;
  /** Specific addresses asked for (CNI_ARGS IP=, runtimeConfig ips). */
  requestedIps?: readonly string[];
}

/**
 * Allocates one address per range set for the owner, or returns what it
 * already holds, and remembers the pod's addresses (sticky) when they changed.
 * On an error, nothing this call reserved stays reserved.
 */
export async function allocate(opts: AllocateOptions): Promise<Allocation[]> {
  const { store, layout, owner } = opts;
  const requested = assignRequested(layout, opts.requestedIps ?? []);
  const pod = podOf(owner);
  const [existing, names, sticky] = await Promise.all([
    store.findByOwner(owner),
    store.reservedIps(),
    pod ? store.sticky(pod) : Promise.resolve([] as string[]),
  ]);
  const taken = new TakenIndex(names);
  const result: (Allocation | undefined)[] = layout.rangeSets.map((set, i) => {
    const held = existing.find((ip) => rangeForIp(set, ip) !== undefined);
    const want = requested.get(i);
    if (want !== undefined && held !== undefined && held !== want) {
      throw new IpamRequestError(
        want,
        `${owner.containerId}/${owner.ifname} already holds ${held}`,
      );
    }
    return held === undefined
      ? undefined
      : { rangeSetIndex: i, ip: held, range: rangeForIp(set, held)!, fresh: false };
  });
  // Everything the owner holds stays indexed, also addresses outside today's ranges.
  const keep = existing;
  const fresh: string[] = [];
  try {
    // A pick can turn out taken only if someone wrote without the lock; retry with it marked.
    for (let attempt = 0; result.some((a) => a === undefined); attempt++) {
      const open = layout.rangeSets.map((_, i) => i).filter((i) => result[i] === undefined);
      const specific = open.map((i) => pickSpecific(layout, i, taken, requested.get(i), sticky));
      // Read the round-robin cursors only of the range sets that need one, in parallel.
      const cursors = await Promise.all(
        open.map((i, k) => specific[k] === undefined ? store.lastReserved(i) : undefined),
      );
      const picks: Claim[] = open.map((i, k) => ({
        ip: specific[k] ?? roundRobin(layout, i, taken, cursors[k]),
        rangeSetIndex: i,
      }));
      const lost = new Set(await store.reserve(owner, picks, [...keep, ...fresh]));
      for (const p of picks) {
        if (lost.has(p.ip)) {
          taken.add(p.ip);
          if (requested.has(p.rangeSetIndex) || attempt > MAX_LOST_RACES) {
            throw new IpamRequestError(p.ip, "is held by another container");
          }
          continue;
        }
        fresh.push(p.ip);
        const set = layout.rangeSets[p.rangeSetIndex]!;
        result[p.rangeSetIndex] = {
          rangeSetIndex: p.rangeSetIndex,
          ip: p.ip,
          range: rangeForIp(set, p.ip)!,
          fresh: true,
        };
      }
    }
    const ips = (result as Allocation[]).map((a) => a.ip);
    if (pod && sticky.join("\n") !== ips.join("\n")) {
      try {
        await store.setSticky(pod, ips);
      } catch (e) {
        throw ioFailure(`remember the addresses of pod ${pod.namespace}/${pod.name}`, e);
      }
    }
  } catch (e) {
    if (fresh.length > 0) await store.release(owner, fresh).catch(() => {});
    throw e;
  }
  return result as Allocation[];
}

/** A requested address (checked free) or a free sticky one; undefined: round-robin. */
function pickSpecific(
  layout: Layout,
  index: number,
  taken: TakenIndex,
  want: string | undefined,
  sticky: readonly string[],
): string | undefined {
  const set = layout.rangeSets[index]!;
  if (want !== undefined) {
    if (taken.hasText(want)) throw new IpamRequestError(want, "is held by another container");
    return want;
  }
  const ex = layout.excluded[set.family];
  for (const ip of sticky) {
    const p = tryParseIp(ip);
    if (
      p && rangeFor(set, p.family, p.value) && !isExcluded(ex, p.value) &&
      !taken.has(p.family, p.value)
    ) {
      return p.text;
    }
  }
  return undefined;
}

/** The first free address after the cursor, host-local's round-robin. */
function roundRobin(
  layout: Layout,
  index: number,
  taken: TakenIndex,
  last: string | undefined,
): string {
  const set = layout.rangeSets[index]!;
  const lastP = last === undefined ? undefined : tryParseIp(last);
  const after = lastP && lastP.family === set.family ? lastP.value : undefined;
  for (const v of candidates(set, layout.excluded[set.family], after)) {
    if (!taken.has(set.family, v)) return bigIntToIp(set.family, v);
  }
  throw new IpamExhaustedError(index, describeRangeSet(set));
}
