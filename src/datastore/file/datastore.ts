/**
 * The file datastore: a directory shared by the agents of one machine (the
 * demo, a single host). Layout: `<dir>/nodes/<name>.json`, one node each,
 * written atomically (temp + rename); `<dir>/claims/`, the ownership record
 * (claims.ts); and `<dir>/lock`, an flock taken around every write so two
 * agents allocating at once can never pick one subnet. Changes are seen
 * through a directory watch (inotify) plus a slow periodic rescan (60 s) as a
 * safety net for missed events. A missing or unreadable folder is a fault,
 * never an empty cluster: the last good snapshot stays, health says degraded
 * and not authoritative, the watch is dropped (it may follow the old folder
 * elsewhere), and the folder is polled until it is back, when the watch is
 * opened on it again.
 * @module
 */

import type {
  Datastore,
  DatastoreHealth,
  EntryReject,
  NodeInfo,
  SelfRegistration,
} from "../types.ts";
import { type FileSystem, RealFileSystem } from "../../system/fs.ts";
import { FilePolicySource } from "./policy.ts";
import {
  decodeNodeEntry,
  encodeNodeEntry,
  freezeNode,
  isEntryReject,
  sameNode,
  sortNodes,
  storedNode,
  validateNodeName,
} from "../node_entry.ts";
import { notifyListener } from "../node_cache.ts";
import { assignSubnets, type Family, parseClusterCidrs } from "../subnets.ts";

/**
 * How often the directory is read in full besides its change notifications:
 * only a net under missed events (an idle store costs nothing between them).
 */
export const DEFAULT_RESCAN_INTERVAL_MS = 60_000;
import {
  type Claims,
  ownedBy,
  readClaimOf,
  readClaims,
  removeClaim,
  writeClaim,
} from "./claims.ts";

/** How often a missing or unreadable folder is looked at again, ms. */
export const FAULT_POLL_MS = 250;

/** A running directory watch: yields something per change, stops on `close()`. */
export interface DirWatch extends AsyncIterable<unknown> {
  close(): void;
}

/** Opens a watch on one directory (non-recursive). */
export type WatchDir = (path: string) => DirWatch;

/** The real watch: inotify through Deno.watchFs. */
export const denoWatchDir: WatchDir = (path) => Deno.watchFs(path, { recursive: false });

/** Where the node entries live; the first argument of the entry helpers. */
export interface NodeEntryOptions {
  /** The shared directory, e.g. /run/hostgate/cluster. */
  dir: string;
  /** Defaults to RealFileSystem. */
  fs?: FileSystem;
}

/** Options of `FileDatastore`. */
export interface FileDatastoreOptions extends NodeEntryOptions {
  /** "10.244.0.0/16", "10.244.0.0/16,fd00:10:244::/56" or an array (one CIDR per family). */
  clusterCidr: string | readonly string[];
  /** IPv4 node subnet size; default 24. */
  nodePrefixLength?: number;
  /** IPv6 node subnet size; default 64. */
  nodePrefixLengthV6?: number;
  /** Directory watch; default `denoWatchDir`. Unit tests pass a fake. */
  watchDir?: WatchDir;
  /** Rescan period in ms, the net under missed watch events; default 60 s, 0 disables. */
  rescanIntervalMs?: number;
  /** Log sink (stderr by default). */
  log?: (msg: string) => void;
  /** Also read NetworkPolicy, Pod and Namespace objects from `<dir>/policy/`. */
  watchPolicy?: boolean;
}

/**
 * The entry files ("a.json") a watch event names, temp files of atomic
 * writes (".a.json.tmp-...") left out; undefined when the event needs a full
 * rescan (no paths: an overflow or a fake's event; or a path that is neither,
 * such as the directory itself).
 */
function entryNamesOf(ev: unknown): string[] | undefined {
  const paths = (ev as { paths?: unknown } | null)?.paths;
  if (!Array.isArray(paths) || paths.length === 0) return undefined;
  const names: string[] = [];
  for (const p of paths) {
    if (typeof p !== "string") return undefined;
    const base = p.slice(p.lastIndexOf("/") + 1);
    if (base.startsWith(".")) continue;
    if (!base.endsWith(".json")) return undefined;
    names.push(base);
  }
  return names;
}

/** Path of the directory holding the node entries. */
export function nodesDir(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/nodes`;
}

/** Path of one node's entry. */
export function nodeEntryPath(dir: string, name: string): string {
  validateNodeName(name);
  return `${nodesDir(dir)}/${name}.json`;
}

function lockPath(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/lock`;
}

/**
 * Creates the nodes folder of a fresh store. A store whose subnets are
 * claimed but whose nodes folder is missing is faulty (a restore in
 * progress, a botched mount): recreating the folder empty would make every
 * agent read an empty cluster, so this throws instead.
 */
async function ensureNodesDir(fs: FileSystem, dir: string): Promise<void> {
  if (await fs.exists(nodesDir(dir))) return;
  if ((await readClaims(fs, dir, { required: false })).size > 0) {
    throw new Error(
      `Cannot use ${
        nodesDir(dir)
      }: it is missing while subnets are claimed (a fault, not an empty cluster)`,
    );
  }
  await fs.mkdirp(nodesDir(dir));
}

async function withLock<T>(opts: NodeEntryOptions, fn: (fs: FileSystem) => Promise<T>) {
  const fs = opts.fs ?? new RealFileSystem();
  await fs.mkdirp(opts.dir);
  const unlock = await fs.lock(lockPath(opts.dir));
  try {
    await ensureNodesDir(fs, opts.dir);
    return await fn(fs);
  } finally {
    await unlock();
  }
}

/** Valid entries, the files refused, and the ownership record. */
interface Scan {
  nodes: NodeInfo[];
  bad: EntryReject[];
  claims: Claims;
}

/** Reads the whole folder; throws when it is missing or unreadable (a fault, not "empty"). */
async function scanEntries(fs: FileSystem, dir: string): Promise<Scan> {
  const nodes: NodeInfo[] = [];
  const bad: EntryReject[] = [];
  if (!(await fs.exists(nodesDir(dir)))) {
    throw new Error(`Cannot read ${nodesDir(dir)}: it is missing`);
  }
  const entries = await fs.readDir(nodesDir(dir));
  for (const e of entries) {
    // Temp files of atomic writes start with "." and are skipped.
    if (!e.isFile || e.name.startsWith(".") || !e.name.endsWith(".json")) continue;
    const text = await fs.readText(`${nodesDir(dir)}/${e.name}`);
    if (text === undefined) continue; // deleted between readDir and read
    const r = decodeNodeEntry(e.name.slice(0, -".json".length), text.length, () => text);
    if (isEntryReject(r)) bad.push(r);
    else nodes.push(r);
  }
  const claims = await readClaims(fs, dir, { required: nodes.length > 0 });
  return { nodes: sortNodes(nodes), bad, claims };
}

/** Every valid node entry in the directory, sorted by name (none when the folder is missing). */
export async function readNodeEntries(opts: NodeEntryOptions): Promise<NodeInfo[]> {
  const fs = opts.fs ?? new RealFileSystem();
  if (!(await fs.exists(nodesDir(opts.dir)))) return [];
  return (await scanEntries(fs, opts.dir)).nodes;
}

/**
 * Writes a node's entry as given (no allocation), under the lock, claiming
 * its subnets that nobody has claimed yet. For the demo and tests to simulate
 * another node appearing or changing its IP, and for admins.
 */
export async function writeNodeEntry(node: NodeInfo, opts: NodeEntryOptions): Promise<void> {
  const stored = storedNode(node);
  const text = encodeNodeEntry(stored);
  await withLock(opts, async (fs) => {
    const claims = await readClaims(fs, opts.dir, { required: false });
    for (const c of stored.podCidrs) {
      if (!claims.has(c)) await writeClaim(fs, opts.dir, c, stored.name);
    }
    await fs.writeAtomic(nodeEntryPath(opts.dir, node.name), text + "\n");
  });
}

/**
 * Removes a node's entry and its claims (its subnets become free). Returns
 * false when the entry did not exist.
 */
export function deleteNodeEntry(name: string, opts: NodeEntryOptions): Promise<boolean> {
  const path = nodeEntryPath(opts.dir, name);
  return withLock(opts, async (fs) => {
    const claims = await readClaims(fs, opts.dir, { required: false });
    for (const c of ownedBy(claims, name)) await removeClaim(fs, opts.dir, c);
    return await fs.remove(path);
  });
}

/** The file datastore; see the module doc. */
export class FileDatastore implements Datastore {
  readonly kind = "file";
  readonly #opts: FileDatastoreOptions;
  readonly #fs: FileSystem;
  readonly #clusterCidrs: string[];
  readonly #log: (msg: string) => void;
  /** The last good read: entries as stored, and the claims. */
  #entries: NodeInfo[] = [];
  #claims: Claims = new Map();
  #snapshot: NodeInfo[] | undefined;
  #bad: EntryReject[] = [];
  #health: DatastoreHealth = { connected: true, events: 0, authoritative: true };
  #onChange: (() => void) | undefined;
  #closed = false;
  #watch: DirWatch | undefined;
  #watchLoop: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #faultTimer: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | undefined;
  /** A full directory read is due. */
  #fullWanted = false;
  /** Entry files named by watch events, to re-read one by one. */
  #pending = new Set<string>();
  #reportedBad = new Set<string>();
  /** NetworkPolicy inputs from `<dir>/policy/`, with `watchPolicy`. */
  readonly policy: FilePolicySource | undefined;

  constructor(opts: FileDatastoreOptions) {
    this.#opts = opts;
    this.#fs = opts.fs ?? new RealFileSystem();
    this.#clusterCidrs = parseClusterCidrs(opts.clusterCidr);
    this.#log = opts.log ?? ((msg) => console.error(msg));
    this.policy = opts.watchPolicy
      ? new FilePolicySource({
        dir: opts.dir,
        fs: this.#fs,
        watchDir: opts.watchDir,
        rescanIntervalMs: opts.rescanIntervalMs,
        log: this.#log,
      })
      : undefined;
  }

  /**
   * Writes (or refreshes) this node's entry under the lock. The node keeps
   * the subnets it has claimed; new ones are claimed first, then the entry is
   * written, so an entry never names a subnet its node does not own.
   */
  async register(self: SelfRegistration): Promise<NodeInfo> {
    if (this.#closed) throw new Error("Cannot register in file datastore: it is closed");
    validateNodeName(self.name);
    const prefixLengths: Partial<Record<Family, number>> = {
      4: this.#opts.nodePrefixLength,
      6: this.#opts.nodePrefixLengthV6,
    };
    const dir = this.#opts.dir;
    const node = await withLock({ dir, fs: this.#fs }, async (fs) => {
      const { nodes } = await scanEntries(fs, dir);
      const claims = await readClaims(fs, dir, { required: false });
      const mine = ownedBy(claims, self.name);
      const current = nodes.find((n) => n.name === self.name);
      const claimedByOthers = [...claims].filter(([, o]) => o !== self.name).map(([c]) => c);
      // The claims are the record. Only a store from before claims (none at all) falls back
      // to what the other entries say; otherwise an unclaimed entry can never push a node off
      // its subnet.
      const unclaimed = claims.size > 0
        ? []
        : nodes.filter((n) => n.name !== self.name).flatMap((n) => n.podCidrs);
      const podCidrs = assignSubnets({
        clusterCidrs: this.#clusterCidrs,
        prefixLengths,
        current: mine.length > 0 ? mine : (current?.podCidrs ?? []).filter((c) => !claims.has(c)),
        taken: [...claimedByOthers, ...unclaimed],
      });
      const next: NodeInfo = { name: self.name, podCidrs, addresses: [...self.addresses] };
      if (self.vtep) next.vtep = { ...self.vtep };
      const stored = storedNode(next); // validates addresses and vtep
      for (const c of podCidrs) if (!mine.includes(c)) await writeClaim(fs, dir, c, self.name);
      for (const c of mine) if (!podCidrs.includes(c)) await removeClaim(fs, dir, c);
      if (!sameNode(current, stored)) {
        await fs.writeAtomic(nodeEntryPath(dir, self.name), encodeNodeEntry(stored) + "\n");
      }
      return stored;
    });
    // Read back the whole directory so nodes() includes this node at once.
    await this.#rescan();
    return freezeNode(node);
  }

  /** Loads the directory, then watches it and rescans periodically. */
  async start(onChange: () => void): Promise<void> {
    if (this.#onChange) throw new Error("Cannot start file datastore: already started");
    if (this.#closed) throw new Error("Cannot start file datastore: it is closed");
    this.#onChange = onChange;
    try {
      await ensureNodesDir(this.#fs, this.#opts.dir);
    } catch (e) {
      this.#fail((e as Error).message); // polled until it is back
    }
    // Watch first, then read: an entry written in between (a node registering
    // while this agent starts) is seen by one or the other, never missed until
    // the slow rescan.
    this.#openWatch();
    await this.#rescan();
    const every = this.#opts.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS;
    if (every > 0) {
      this.#timer = setInterval(() => {
        if (!this.#watch) this.#openWatch();
        void this.#rescan();
      }, every);
    }
  }

  /** The last good snapshot, each node with the subnets its claims give it. */
  nodes(): NodeInfo[] {
    this.#snapshot ??= this.#entries.map((n) =>
      freezeNode({ ...n, ownership: { source: "claim", subnets: ownedBy(this.#claims, n.name) } })
    );
    return [...this.#snapshot];
  }

  health(): DatastoreHealth {
    return { ...this.#health };
  }

  entryRejects(): EntryReject[] {
    return this.#bad.map((b) => ({ ...b }));
  }

  /** Deletes a node's entry and claims (admin action) and refreshes the snapshot. */
  async removeNode(name: string): Promise<boolean> {
    const existed = await deleteNodeEntry(name, { dir: this.#opts.dir, fs: this.#fs });
    await this.#rescan();
    return existed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.policy?.close();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#faultTimer);
    this.#faultTimer = undefined;
    this.#closeWatch();
    await this.#watchLoop;
    await this.#scanning;
  }

  #openWatch(): void {
    if (this.#closed) return;
    let watch: DirWatch;
    try {
      watch = (this.#opts.watchDir ?? denoWatchDir)(nodesDir(this.#opts.dir));
    } catch (e) {
      this.#fail(`Cannot watch ${nodesDir(this.#opts.dir)}: ${(e as Error).message}`);
      return;
    }
    this.#watch = watch;
    this.#watchLoop = (async () => {
      try {
        for await (const ev of watch) void this.#onWatchEvent(ev);
      } catch (e) {
        if (!this.#closed) {
          this.#fail(`Cannot watch ${nodesDir(this.#opts.dir)}: ${(e as Error).message}`);
        }
      }
      // A watch that ends on its own (directory removed): read again, which finds the fault.
      if (this.#watch === watch) {
        this.#closeWatch();
        if (!this.#closed) void this.#rescan();
      }
    })();
  }

  #closeWatch(): void {
    const w = this.#watch;
    this.#watch = undefined;
    try {
      w?.close();
    } catch {
      // already closed
    }
  }

  /** Reads the whole directory and applies it (start, register, timer, unclear events). */
  #rescan(): Promise<void> {
    this.#fullWanted = true;
    return this.#drain();
  }

  /**
   * A watch event: the entry files it names are re-read one by one (one read
   * per changed node instead of the whole directory, which matters when every
   * agent of the machine wakes on every change); temp files of atomic writes
   * are ignored (their rename has its own event); anything else rescans.
   */
  #onWatchEvent(ev: unknown): Promise<void> {
    const names = entryNamesOf(ev);
    if (names === undefined) return this.#rescan();
    if (names.length === 0) return Promise.resolve();
    for (const n of names) this.#pending.add(n);
    return this.#drain();
  }

  /**
   * Runs the due reads one after another. Requests made while one runs are
   * picked up by the same loop, so a burst of events costs few reads.
   */
  #drain(): Promise<void> {
    if (this.#scanning) return this.#scanning;
    this.#scanning = (async () => {
      try {
        while ((this.#fullWanted || this.#pending.size > 0) && !this.#closed) {
          if (this.#fullWanted || !this.#health.authoritative) {
            this.#fullWanted = false;
            this.#pending.clear();
            await this.#scanOnce();
          } else {
            const names = [...this.#pending];
            this.#pending.clear();
            await this.#readEntries(names);
          }
        }
      } finally {
        this.#scanning = undefined;
      }
    })();
    return this.#scanning;
  }

  /** Re-reads some entry files ("a.json"); anything unusual falls back to a full scan. */
  async #readEntries(files: string[]): Promise<void> {
    const byName = new Map(this.#entries.map((n) => [n.name, n]));
    // Claims change only under the lock together with an entry: re-read those the changed
    // entries name (one small read each) instead of the whole claims folder.
    const claims: Claims = new Map(this.#claims);
    try {
      for (const file of files) {
        const name = file.slice(0, -".json".length);
        const text = await this.#fs.readText(`${nodesDir(this.#opts.dir)}/${file}`);
        if (text === undefined) {
          // Gone, or the whole folder is: only a full read can tell.
          if (!(await this.#fs.exists(nodesDir(this.#opts.dir)))) throw new Error("folder gone");
          byName.delete(name);
          continue;
        }
        const r = decodeNodeEntry(name, text.length, () => text);
        if (isEntryReject(r)) throw new Error("refused entry");
        byName.set(name, r);
        for (const c of r.podCidrs) {
          const owner = await readClaimOf(this.#fs, this.#opts.dir, c);
          if (owner === undefined) claims.delete(c);
          else claims.set(c, owner);
        }
      }
    } catch {
      // Unreadable, refused or a fault: the full scan reads, reports and decides.
      this.#fullWanted = true;
      return;
    }
    this.#apply(sortNodes(byName.values()), claims);
  }

  async #scanOnce(): Promise<void> {
    let scan: Scan;
    try {
      scan = await scanEntries(this.#fs, this.#opts.dir);
    } catch (e) {
      this.#fail((e as Error).message);
      return;
    }
    const keys = scan.bad.map((b) => `${b.node}.json: ${b.reason}: ${b.detail}`);
    for (const k of keys) {
      if (!this.#reportedBad.has(k)) this.#log(`hostgate datastore file: skipping ${k}`);
    }
    this.#reportedBad = new Set(keys);
    this.#bad = scan.bad;
    const recovered = !this.#health.connected || !this.#health.authoritative;
    this.#health = { connected: true, events: this.#health.events, authoritative: true };
    if (recovered) this.#log(`hostgate datastore file: ${nodesDir(this.#opts.dir)} readable again`);
    this.#apply(scan.nodes, scan.claims, recovered);
  }

  /** Takes a new snapshot (sorted by name) and tells the agent when it (or health) changed. */
  #apply(nodes: NodeInfo[], claims: Claims, force = false): void {
    // Only the ownership of present entries matters: a claim written just before its
    // entry (registration order) is no change yet.
    const owned = (list: readonly NodeInfo[], c: Claims) =>
      list.map((n) => `${n.name}=${ownedBy(c, n.name).join(",")}`).join(";");
    const changed = force || nodes.length !== this.#entries.length ||
      nodes.some((n, i) => !sameNode(n, this.#entries[i])) ||
      owned(nodes, claims) !== owned(this.#entries, this.#claims);
    this.#claims = claims;
    if (!changed) return;
    this.#entries = nodes.map(freezeNode);
    this.#snapshot = undefined;
    this.#notify();
  }

  #notify(): void {
    if (!this.#onChange || this.#closed) return;
    this.#health.events++;
    notifyListener(this.#onChange, this.#log, "file");
  }

  /** A fault: keep the last snapshot, say so, poll until the folder reads again. */
  #fail(msg: string): void {
    const was = this.#health.connected;
    this.#health = {
      connected: false,
      lastError: msg,
      events: this.#health.events,
      authoritative: false,
    };
    if (was) {
      this.#log(`hostgate datastore file: ${msg}; keeping the last node list`);
      this.#notify();
    }
    // A watch on a folder renamed away keeps following it; one on a deleted folder is dead.
    // Either way, the watch is opened again on the path once the folder reads again.
    this.#closeWatch();
    if (this.#faultTimer === undefined && !this.#closed && this.#onChange) {
      this.#faultTimer = setTimeout(() => {
        this.#faultTimer = undefined;
        if (this.#closed) return;
        if (!this.#watch) this.#openWatch();
        void this.#rescan();
      }, FAULT_POLL_MS);
    }
  }
}
