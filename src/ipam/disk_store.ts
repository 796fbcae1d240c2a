/**
 * The on-disk reservation store, in host-local's exact format so the reference
 * tools read and write the same directory: `<dataDir>/<network>/` holds one
 * file per address named by the address and holding `<containerID>\r\n<ifname>`,
 * `last_reserved_ip.<range set index>` with the round-robin cursor (written in
 * place like host-local's: a hint, read as garbage-tolerant input), and `lock`,
 * flocked for a whole operation. Files are created with O_EXCL.
 *
 * The lock is held as briefly as possible, since 20 pods starting at once
 * queue on it and a holder is easily descheduled among them:
 * `prepareAllocate` does before the lock what needs no lock (the redirect
 * check, creating folders, reading the sticky hint, warming the file calls);
 * inside remain the reads the decision depends on, the decision and the
 * O_EXCL creates.
 *
 * hostgate adds two subdirectories, which host-local ignores:
 * - `owners/<containerID>@<ifname>`: an index {containerId, ifname, ips},
 *   written before any reservation file of that owner is created. ADD
 *   (idempotency), DEL and CHECK read it plus the listed files instead of
 *   every file of the network: the per-pod path stays O(1) in the pod count.
 *   Every entry is verified against the reservation file, so a stale index
 *   never releases someone else's address. Reservations written by other tools
 *   (no index) are found by GC, which reads everything.
 * - `sticky/<namespace>_<name>`: a pod's last addresses, one per line. GC
 *   prunes an entry once none of its addresses is reserved and its mtime is
 *   older than `stickyTtl`; GC refreshes the mtime of a held entry once it is
 *   a quarter TTL old, so an entry outlives the last GC that saw it held by at
 *   least three quarters of the TTL. Entries are aged by lstat: a symlink or
 *   other non-file there is never read, followed or deleted.
 *
 * All access goes through `FileSystem`.
 * @module
 */
import { invalidConfig } from "../errors.ts";
import type { Clock } from "../system/clock.ts";
import type { DirEntry, FileSystem, Unlock } from "../system/fs.ts";
import { tryParseIp } from "../net/mod.ts";
import { ioFailure, IpamUnavailableError } from "./errors.ts";
import {
  type Claim,
  formatRecord,
  keyMatches,
  parseRecord,
  type PodRef,
  type Reservation,
  type Store,
  type StoreKey,
} from "./store.ts";
import type { Attachment } from "./types.ts";

/** host-local's cursor file prefix. */
export const LAST_IP_PREFIX = "last_reserved_ip.";
/** The lock file. */
export const LOCK_FILE = "lock";
/** hostgate's owner index directory. */
export const OWNERS_DIR = "owners";
/** hostgate's sticky IP directory. */
export const STICKY_DIR = "sticky";

/** Names that can be reservation files: address characters only. */
const ADDRESS_NAME = /^[0-9a-fA-F:.]+$/;
/** Temp files of `FileSystem.writeAtomic` or `probe` left by a killed writer. */
const TEMP_NAME = /^(\..+\.tmp-\d+-[0-9a-f]+|\.probe-[0-9a-f]+)$/;
/** File names stay well below NAME_MAX (255). */
const MAX_NAME = 200;

interface OwnerIndex {
  containerId: string;
  ifname: string;
  ips: string[];
}

/** Options of a disk store. */
export interface DiskStoreOptions {
  fs: FileSystem;
  /** Store root (`ipam.dataDir`). */
  dataDir: string;
  /** Network name: the subdirectory, like host-local's /var/lib/cni/networks/<name>. */
  network: string;
  /** Ages sticky entries; without it (or without `fs.lstat`) GC never prunes them. */
  clock?: Pick<Clock, "now">;
  /** Seconds an unheld sticky entry is kept (`ipam.stickyTtl`); default 24 h. */
  stickyTtl?: number;
}

function fnv1a(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

function safeName(text: string): string {
  const n = encodeURIComponent(text);
  return n.length > MAX_NAME ? `${n.slice(0, 64)}~${fnv1a(text)}` : n;
}

/** The host-local compatible disk store. */
export class DiskStore implements Store {
  /** `<dataDir>/<network>`. */
  readonly dir: string;
  readonly #fs: FileSystem;
  readonly #clock: Pick<Clock, "now"> | undefined;
  readonly #stickyTtlMs: number;
  /** The sticky entry `prepareAllocate` read before the lock, for `sticky` to use once. */
  #stickyHint: { path: string; ips: string[] } | undefined;

  constructor(opts: DiskStoreOptions) {
    const n = opts.network;
    if (typeof n !== "string" || n === "" || n.includes("/") || n === "." || n === "..") {
      throw invalidConfig("name", `must be a valid network name, got ${JSON.stringify(n)}`);
    }
    this.#fs = opts.fs;
    this.#clock = opts.clock;
    this.#stickyTtlMs = (opts.stickyTtl ?? 24 * 60 * 60) * 1000;
    this.dir = `${opts.dataDir.replace(/\/+$/, "")}/${n}`;
  }

  #path(name: string): string {
    return `${this.dir}/${name}`;
  }

  #ownerPath(owner: Attachment): string {
    return `${this.dir}/${OWNERS_DIR}/${safeName(owner.containerId.trim())}@${
      safeName(owner.ifname)
    }`;
  }

  #stickyPath(pod: PodRef): string {
    return `${this.dir}/${STICKY_DIR}/${safeName(pod.namespace)}_${safeName(pod.name)}`;
  }

  /**
   * Writes a small hostgate file in a subdirectory (created on first use).
   * A new file is created with O_EXCL in one write, an existing one replaced
   * with writeAtomic: both never expose a half-written file to a reader that
   * checks completeness (JSON for the index, whole lines for sticky), and a new
   * pod costs no fsync. The subdirectory is created on first use only.
   */
  async #writeIn(path: string, data: string): Promise<void> {
    let created: boolean;
    try {
      created = await this.#fs.createExclusive(path, data);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await this.#fs.mkdirp(path.slice(0, path.lastIndexOf("/")), 0o755);
      created = await this.#fs.createExclusive(path, data);
    }
    // IPAM state lives on tmpfs and host-local does not fsync either.
    if (!created) await this.#fs.writeAtomic(path, data, { durable: false });
  }

  /**
   * Work an allocation does before the lock: creates the store's folders
   * once they are checked to be real folders (a symlink is left for
   * `withLock` to refuse), reads the pod's sticky entry (a hint: the
   * allocator checks under the lock that the address is free) and warms the
   * file calls the locked section makes. Fails only for what `withLock`
   * would fail too; a folder it cannot create is left for the locked calls
   * to report as before.
   */
  async prepareAllocate(pod: PodRef | undefined): Promise<void> {
    const lstatKind = this.#fs.lstatKind?.bind(this.#fs);
    if (lstatKind) {
      const dirs = [this.dir, this.#path(OWNERS_DIR), ...(pod ? [this.#path(STICKY_DIR)] : [])];
      const kinds = await Promise.all(dirs.map((d) => lstatKind(d)));
      if (kinds.some((k) => k !== undefined && k !== "dir")) return;
      for (const [i, d] of dirs.entries()) {
        if (kinds[i] === undefined) await this.#fs.mkdirp(d, 0o755).catch(() => {});
      }
    }
    if (pod) {
      const path = this.#stickyPath(pod);
      this.#stickyHint = { path, ips: await this.#readSticky(path) };
    }
    await this.#fs.prime?.(this.dir);
  }

  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lockPath = this.#path(LOCK_FILE);
    // Before the lock: not even a lock file is made in a folder a symlink points to.
    await this.#refuseRedirects();
    let unlock: Unlock;
    try {
      try {
        unlock = await this.#fs.lock(lockPath);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        await this.#fs.mkdirp(this.dir, 0o755);
        unlock = await this.#fs.lock(lockPath);
      }
    } catch (e) {
      throw ioFailure(`lock the IPAM store ${lockPath}`, e);
    }
    try {
      return await fn();
    } finally {
      this.#stickyHint = undefined; // a hint is for the allocation right after it only
      await unlock();
    }
  }

  /**
   * The store's directories must be directories, not symlinks: a link would
   * make GC and DEL remove files in another folder.
   */
  async #refuseRedirects(): Promise<void> {
    if (!this.#fs.lstatKind) return;
    for (const p of [this.dir, this.#path(OWNERS_DIR), this.#path(STICKY_DIR)]) {
      const kind = await this.#fs.lstatKind(p);
      if (kind !== undefined && kind !== "dir") {
        throw ioFailure(
          `use the IPAM store ${p}`,
          new Error(`it is a ${kind}, not a directory; symlinks are never followed`),
        );
      }
    }
  }

  async reservedIps(): Promise<ReadonlySet<string>> {
    const out = new Set<string>();
    for (const e of await this.#fs.readDir(this.dir)) {
      if (e.isFile && ADDRESS_NAME.test(e.name)) out.add(e.name);
    }
    return out;
  }

  async #readIndex(owner: Attachment): Promise<OwnerIndex | undefined> {
    const text = await this.#fs.readText(this.#ownerPath(owner));
    if (text === undefined) return undefined;
    try {
      const idx = JSON.parse(text) as OwnerIndex;
      return Array.isArray(idx.ips) ? idx : undefined;
    } catch {
      return undefined; // a torn index only loses the hint; GC still finds the files
    }
  }

  /** The owner's indexed addresses whose files really are the owner's. */
  async #verified(owner: Attachment, ips: readonly string[]): Promise<string[]> {
    const unique = [...new Set(ips)].filter((ip) => ADDRESS_NAME.test(ip));
    const records = await Promise.all(unique.map((ip) => this.#fs.readText(this.#path(ip))));
    return unique.filter((_, i) => {
      const r = records[i];
      return r !== undefined && keyMatches(parseRecord(r), owner);
    });
  }

  async findByOwner(owner: Attachment): Promise<string[]> {
    const idx = await this.#readIndex(owner);
    return idx ? await this.#verified(owner, idx.ips) : [];
  }

  async lastReserved(index: number): Promise<string | undefined> {
    const text = await this.#fs.readText(this.#path(`${LAST_IP_PREFIX}${index}`));
    return text === undefined ? undefined : tryParseIp(text.trim())?.text;
  }

  async reserve(
    owner: Attachment,
    picks: readonly Claim[],
    keep: readonly string[],
  ): Promise<string[]> {
    const index: OwnerIndex = {
      containerId: owner.containerId.trim(),
      ifname: owner.ifname,
      ips: [...new Set([...keep, ...picks.map((p) => p.ip)])],
    };
    const created: string[] = [];
    const taken: string[] = [];
    try {
      // The index first: a crash after this leaves at most a stale hint.
      await this.#writeIn(this.#ownerPath(owner), JSON.stringify(index));
      const record = formatRecord(owner);
      for (const p of picks) {
        if (!(await this.#fs.createExclusive(this.#path(p.ip), record))) {
          taken.push(p.ip);
          continue;
        }
        created.push(p.ip);
        await this.#writeCursor(p.rangeSetIndex, p.ip);
      }
    } catch (e) {
      for (const ip of created) await this.#fs.remove(this.#path(ip)).catch(() => false);
      throw ioFailure(`reserve ${picks.map((p) => p.ip).join(", ")}`, e);
    }
    return taken;
  }

  /**
   * In place when the file system can (one open, one write): a cursor torn by
   * a killed writer only makes the next ADD start its walk elsewhere, since
   * `lastReserved` takes nothing but a whole address from it.
   */
  async #writeCursor(index: number, ip: string): Promise<void> {
    const path = this.#path(`${LAST_IP_PREFIX}${index}`);
    if (this.#fs.overwrite) await this.#fs.overwrite(path, ip);
    else await this.#fs.writeAtomic(path, ip, { durable: false });
  }

  async release(owner: Attachment, ips: readonly string[]): Promise<void> {
    for (const ip of await this.#verified(owner, ips)) await this.#fs.remove(this.#path(ip));
  }

  async releaseByOwner(owner: Attachment): Promise<string[]> {
    const idx = await this.#readIndex(owner);
    if (!idx) return [];
    const mine = await this.#verified(owner, idx.ips);
    for (const ip of mine) await this.#fs.remove(this.#path(ip));
    await this.#fs.remove(this.#ownerPath(owner));
    return mine;
  }

  async sticky(pod: PodRef): Promise<string[]> {
    const path = this.#stickyPath(pod);
    const hint = this.#stickyHint;
    this.#stickyHint = undefined;
    return hint?.path === path ? hint.ips : await this.#readSticky(path);
  }

  async #readSticky(path: string): Promise<string[]> {
    const text = await this.#fs.readText(path);
    if (text === undefined) return [];
    // Only complete lines count: a torn first write loses its last line, never garbles it.
    const lines = text.split("\n").slice(0, -1);
    return lines.map((l) => tryParseIp(l.trim())?.text).filter((x): x is string => x !== undefined);
  }

  async setSticky(pod: PodRef, ips: readonly string[]): Promise<void> {
    await this.#writeIn(this.#stickyPath(pod), ips.join("\n") + "\n");
  }

  async list(): Promise<Reservation[]> {
    const names = [...await this.reservedIps()];
    const records = await Promise.all(names.map((n) => this.#fs.readText(this.#path(n))));
    const out: Reservation[] = [];
    names.forEach((ip, i) => {
      const r = records[i];
      if (r !== undefined) out.push({ ip, ...parseRecord(r) });
    });
    return out;
  }

  async gc(isValid: (key: StoreKey) => boolean): Promise<Reservation[]> {
    const entries = await this.#fs.readDir(this.dir);
    const names = entries.filter((e) => e.isFile && ADDRESS_NAME.test(e.name)).map((e) => e.name);
    const records = await Promise.all(names.map((n) => this.#fs.readText(this.#path(n))));
    const released: Reservation[] = [];
    const held = new Set<string>();
    for (let i = 0; i < names.length; i++) {
      const r = records[i];
      if (r === undefined) continue;
      const res: Reservation = { ip: names[i]!, ...parseRecord(r) };
      if (!isValid(res)) {
        await this.#fs.remove(this.#path(res.ip));
        released.push(res);
      } else {
        held.add(res.ip);
      }
    }
    // Leftovers of killed writers: every writer holds the lock we hold now.
    await this.#removeTemps(this.dir, entries);
    const stickyDir = this.#path(STICKY_DIR);
    const stickies = await this.#fs.readDir(stickyDir);
    await this.#removeTemps(stickyDir, stickies);
    await this.#pruneSticky(stickyDir, stickies, held);
    const ownersDir = this.#path(OWNERS_DIR);
    const owners = await this.#fs.readDir(ownersDir);
    await this.#removeTemps(ownersDir, owners);
    for (const e of owners) {
      if (!e.isFile || TEMP_NAME.test(e.name)) continue;
      const path = `${ownersDir}/${e.name}`;
      const text = await this.#fs.readText(path);
      let idx: OwnerIndex | undefined;
      try {
        idx = text === undefined ? undefined : JSON.parse(text) as OwnerIndex;
      } catch {
        idx = undefined;
      }
      if (!idx || typeof idx.containerId !== "string" || !isValid(idx)) {
        await this.#fs.remove(path);
      }
    }
    return released;
  }

  /**
   * Removes sticky entries none of whose addresses is in `held` and whose
   * mtime is `stickyTtl` old; refreshes held ones a quarter TTL old. Only
   * regular files by lstat are touched.
   */
  async #pruneSticky(
    dir: string,
    entries: readonly DirEntry[],
    held: ReadonlySet<string>,
  ): Promise<void> {
    const lstat = this.#fs.lstat?.bind(this.#fs);
    if (!this.#clock || !lstat) return;
    const now = this.#clock.now();
    for (const e of entries) {
      if (!e.isFile || TEMP_NAME.test(e.name)) continue;
      const path = `${dir}/${e.name}`;
      const st = await lstat(path);
      if (st?.kind !== "file") continue; // a symlink or anything else is not ours
      const age = now - st.mtime;
      if (age < this.#stickyTtlMs / 4) continue; // young: no read at all
      const text = await this.#fs.readText(path);
      if (text === undefined) continue;
      const ips = text.split("\n").map((l) => tryParseIp(l.trim())?.text);
      if (ips.some((ip) => ip !== undefined && held.has(ip))) {
        await this.#fs.writeAtomic(path, text, { durable: false }); // seen held: age restarts
      } else if (age >= this.#stickyTtlMs) {
        await this.#fs.remove(path);
      }
    }
  }

  async #removeTemps(dir: string, entries: readonly DirEntry[]): Promise<void> {
    for (const e of entries) {
      if (e.isFile && TEMP_NAME.test(e.name)) await this.#fs.remove(`${dir}/${e.name}`);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.#fs.mkdirp(this.dir, 0o755);
      await this.withLock(async () => {
        const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16);
        const path = this.#path(`.probe-${rand}`);
        if (!(await this.#fs.createExclusive(path, ""))) return;
        await this.#fs.remove(path);
      });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new IpamUnavailableError(
        `Cannot use the IPAM store ${this.dir}: ${msg}`,
        "",
        { cause: e },
      );
    }
  }
}
