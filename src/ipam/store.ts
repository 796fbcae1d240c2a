/**
 * What the allocator needs from a reservation store, and host-local's record
 * format. The allocator calls a Store only inside `withLock`, so one
 * operation sees and changes a consistent state; the disk store implements
 * it with flock, a memory or API-backed store could implement it otherwise.
 * @module
 */
import type { Attachment } from "./types.ts";

/** Who holds a reservation as recorded; `ifname` is absent in pre-0.7 records. */
export interface StoreKey {
  containerId: string;
  ifname?: string;
}

/** One reservation. */
export interface Reservation extends StoreKey {
  /** Canonical address text (the file name on disk). */
  ip: string;
}

/** An address to reserve and the range set it is drawn from (for round-robin). */
export interface Claim {
  ip: string;
  rangeSetIndex: number;
}

/** A pod, for sticky IPs. */
export interface PodRef {
  namespace: string;
  name: string;
}

/**
 * Reservation storage. Every method except `withLock`, `prepareAllocate` and
 * `probe` runs under the lock.
 */
export interface Store {
  /** Runs `fn` holding the store's exclusive lock (across processes for the disk store). */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Optional, called without the lock right before an allocation's
   * `withLock`: whatever needs no lock (folders, hints, warming up) is done
   * here so the locked section that many ADDs queue for stays short.
   */
  prepareAllocate?(pod: PodRef | undefined): Promise<void>;
  /** Canonical texts of every reserved address; one listing, no file read. */
  reservedIps(): Promise<ReadonlySet<string>>;
  /** Addresses `owner` holds, each verified against its reservation record. */
  findByOwner(owner: Attachment): Promise<string[]>;
  /** The address last reserved from range set `index` (round-robin cursor). */
  lastReserved(index: number): Promise<string | undefined>;
  /**
   * Reserves `picks` for `owner` (O_EXCL) and moves each range set's cursor.
   * `keep` lists the owner's other addresses, so the store can index them
   * together. Returns the picks that turned out taken (nothing reserved for
   * those); on an error nothing of this call stays reserved.
   */
  reserve(owner: Attachment, picks: readonly Claim[], keep: readonly string[]): Promise<string[]>;
  /** Releases those of `ips` that `owner` holds (others are left alone). */
  release(owner: Attachment, ips: readonly string[]): Promise<void>;
  /** Releases everything `owner` holds; returns the released addresses. */
  releaseByOwner(owner: Attachment): Promise<string[]>;
  /** The addresses a pod held last (sticky IPs); [] when unknown. */
  sticky(pod: PodRef): Promise<string[]>;
  /** Remembers the addresses of a pod. */
  setSticky(pod: PodRef, ips: readonly string[]): Promise<void>;
  /** Every reservation (reads every record). */
  list(): Promise<Reservation[]>;
  /**
   * Releases every reservation whose key `isValid` rejects; keeps bookkeeping
   * (lock, cursors, sticky). Returns what it released.
   */
  gc(isValid: (key: StoreKey) => boolean): Promise<Reservation[]>;
  /** Throws when the store cannot be written (for STATUS). Takes the lock itself. */
  probe(): Promise<void>;
}

/** host-local's line break between container ID and ifname. */
export const LINE_BREAK = "\r\n";

/** The content of a reservation file: `<containerID>\r\n<ifname>` (host-local). */
export function formatRecord(owner: Attachment): string {
  return owner.containerId.trim() + LINE_BREAK + owner.ifname;
}

/**
 * Parses a reservation file. A record without a line break is host-local's
 * legacy form (container ID only) and matches any ifname of that container.
 */
export function parseRecord(text: string): StoreKey {
  const t = text.trim();
  const i = t.indexOf(LINE_BREAK);
  if (i < 0) return { containerId: t };
  return { containerId: t.slice(0, i).trim(), ifname: t.slice(i + LINE_BREAK.length).trim() };
}

/** True when a recorded key belongs to `owner` (legacy keys match on the container only). */
export function keyMatches(key: StoreKey, owner: Attachment): boolean {
  return key.containerId === owner.containerId.trim() &&
    (key.ifname === undefined || key.ifname === owner.ifname);
}

/**
 * A GC predicate: a key is valid when some attachment in `valid` matches it.
 * Legacy keys (no ifname) are valid when their container is.
 */
export function validKeyPredicate(valid: readonly Attachment[]): (key: StoreKey) => boolean {
  const exact = new Set(valid.map((a) => `${a.containerId.trim()}${LINE_BREAK}${a.ifname}`));
  const containers = new Set(valid.map((a) => a.containerId.trim()));
  return (key) =>
    key.ifname === undefined
      ? containers.has(key.containerId)
      : exact.has(`${key.containerId}${LINE_BREAK}${key.ifname}`);
}
