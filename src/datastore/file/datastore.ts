/**
 * The file datastore: a directory shared by the agents of one machine (the
 * demo, a single host). Layout: `<dir>/nodes/<name>.json`, one node each,
 * written atomically (temp + rename), and `<dir>/lock`, an flock taken around
 * every write so two agents allocating at once can never pick one subnet.
 * Changes are seen through a directory watch (inotify) plus a periodic rescan
 * as a safety net for missed events.
 * @module
 */

import type { Datastore, DatastoreHealth, NodeInfo, SelfRegistration } from "../types.ts";
import { type FileSystem, RealFileSystem } from "../../system/fs.ts";
import {
  encodeNodeEntry,
  freezeNode,
  parseNodeEntry,
  sameNode,
  sortNodes,
  storedNode,
  validateNodeName,
} from "../node_entry.ts";
import { NodeCache, notifyListener } from "../node_cache.ts";
import { assignSubnets, type Family, parseClusterCidrs } from "../subnets.ts";

/** How often the directory is read in full besides its change notifications. */
const DEFAULT_RESCAN_INTERVAL_MS = 5000;

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
  /** Rescan period in ms, the net under missed watch events; default 5000, 0 disables. */
  rescanIntervalMs?: number;
  /** Log sink (stderr by default). */
  log?: (msg: string) => void;
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

async function withLock<T>(opts: NodeEntryOptions, fn: (fs: FileSystem) => Promise<T>) {
  const fs = opts.fs ?? new RealFileSystem();
  await fs.mkdirp(nodesDir(opts.dir));
  const unlock = await fs.lock(lockPath(opts.dir));
  try {
    return await fn(fs);
  } finally {
    await unlock();
  }
}

/** Valid entries and the files that could not be parsed. */
interface Scan {
  nodes: NodeInfo[];
  bad: string[];
}

async function scanEntries(fs: FileSystem, dir: string): Promise<Scan> {
  const nodes: NodeInfo[] = [];
  const bad: string[] = [];
  const entries = await fs.readDir(nodesDir(dir));
  for (const e of entries) {
    // Temp files of atomic writes start with "." and are skipped.
    if (!e.isFile || e.name.startsWith(".") || !e.name.endsWith(".json")) continue;
    const text = await fs.readText(`${nodesDir(dir)}/${e.name}`);
    if (text === undefined) continue; // deleted between readDir and read
    try {
      nodes.push(parseNodeEntry(text, e.name.slice(0, -".json".length)));
    } catch (err) {
      bad.push(`${e.name}: ${(err as Error).message}`);
    }
  }
  return { nodes: sortNodes(nodes), bad };
}

/** Every valid node entry in the directory, sorted by name. */
export async function readNodeEntries(opts: NodeEntryOptions): Promise<NodeInfo[]> {
  return (await scanEntries(opts.fs ?? new RealFileSystem(), opts.dir)).nodes;
}

/**
 * Writes a node's entry as given (no allocation), under the lock. For the demo
 * and tests to simulate another node appearing or changing its IP, and for admins.
 */
export async function writeNodeEntry(node: NodeInfo, opts: NodeEntryOptions): Promise<void> {
  const text = encodeNodeEntry(storedNode(node));
  await withLock(opts, (fs) => fs.writeAtomic(nodeEntryPath(opts.dir, node.name), text + "\n"));
}

/** Removes a node's entry (its subnet becomes free). Returns false when it did not exist. */
export function deleteNodeEntry(name: string, opts: NodeEntryOptions): Promise<boolean> {
  const path = nodeEntryPath(opts.dir, name);
  return withLock(opts, (fs) => fs.remove(path));
}

/** The file datastore; see the module doc. */
export class FileDatastore implements Datastore {
  readonly kind = "file";
  readonly #opts: FileDatastoreOptions;
  readonly #fs: FileSystem;
  readonly #clusterCidrs: string[];
  readonly #log: (msg: string) => void;
  readonly #nodes = new NodeCache();
  #health: DatastoreHealth = { connected: true, events: 0 };
  #onChange: (() => void) | undefined;
  #closed = false;
  #watch: DirWatch | undefined;
  #watchLoop: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #scanning: Promise<void> | undefined;
  /** A full directory read is due. */
  #fullWanted = false;
  /** Entry files named by watch events, to re-read one by one. */
  #pending = new Set<string>();
  #reportedBad = new Set<string>();

  constructor(opts: FileDatastoreOptions) {
    this.#opts = opts;
    this.#fs = opts.fs ?? new RealFileSystem();
    this.#clusterCidrs = parseClusterCidrs(opts.clusterCidr);
    this.#log = opts.log ?? ((msg) => console.error(msg));
  }

  /** Writes (or refreshes) this node's entry, keeping or allocating its subnets under the lock. */
  async register(self: SelfRegistration): Promise<NodeInfo> {
    if (this.#closed) throw new Error("Cannot register in file datastore: it is closed");
    validateNodeName(self.name);
    const prefixLengths: Partial<Record<Family, number>> = {
      4: this.#opts.nodePrefixLength,
      6: this.#opts.nodePrefixLengthV6,
    };
    const node = await withLock({ dir: this.#opts.dir, fs: this.#fs }, async (fs) => {
      const { nodes } = await scanEntries(fs, this.#opts.dir);
      const current = nodes.find((n) => n.name === self.name);
      const taken = nodes.filter((n) => n.name !== self.name).flatMap((n) => n.podCidrs);
      const podCidrs = assignSubnets({
        clusterCidrs: this.#clusterCidrs,
        prefixLengths,
        current: current?.podCidrs,
        taken,
      });
      const next: NodeInfo = { name: self.name, podCidrs, addresses: [...self.addresses] };
      if (self.vtep) next.vtep = { ...self.vtep };
      const stored = storedNode(next); // validates addresses and vtep
      if (!sameNode(current, stored)) {
        await fs.writeAtomic(
          nodeEntryPath(this.#opts.dir, self.name),
          encodeNodeEntry(stored) + "\n",
        );
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
    await this.#fs.mkdirp(nodesDir(this.#opts.dir));
    await this.#rescan();
    this.#openWatch();
    const every = this.#opts.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS;
    if (every > 0) {
      this.#timer = setInterval(() => {
        if (!this.#watch) this.#openWatch();
        void this.#rescan();
      }, every);
    }
  }

  nodes(): NodeInfo[] {
    return this.#nodes.list();
  }

  health(): DatastoreHealth {
    return { ...this.#health };
  }

  /** Deletes a node's entry (admin action) and refreshes the snapshot. */
  async removeNode(name: string): Promise<boolean> {
    const existed = await deleteNodeEntry(name, { dir: this.#opts.dir, fs: this.#fs });
    await this.#rescan();
    return existed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
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
      // A watch that ends on its own (directory removed) is reopened by the rescan timer.
      if (this.#watch === watch) this.#closeWatch();
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
          if (this.#fullWanted) {
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
    const changes: [string, NodeInfo | undefined][] = [];
    for (const file of files) {
      const name = file.slice(0, -".json".length);
      try {
        const text = await this.#fs.readText(`${nodesDir(this.#opts.dir)}/${file}`);
        changes.push([name, text === undefined ? undefined : parseNodeEntry(text, name)]);
      } catch {
        // Unreadable or invalid: the full scan reads, reports and skips it as usual.
        this.#fullWanted = true;
        return;
      }
    }
    this.#notifyIf(this.#nodes.apply(changes));
  }

  async #scanOnce(): Promise<void> {
    let scan: Scan;
    try {
      scan = await scanEntries(this.#fs, this.#opts.dir);
    } catch (e) {
      this.#fail(`Cannot read ${nodesDir(this.#opts.dir)}: ${(e as Error).message}`);
      return;
    }
    for (const b of scan.bad) {
      if (!this.#reportedBad.has(b)) this.#log(`hostgate datastore file: skipping ${b}`);
    }
    this.#reportedBad = new Set(scan.bad);
    this.#health = { connected: true, events: this.#health.events };
    this.#notifyIf(this.#nodes.replace(scan.nodes));
  }

  /** Tells the agent when a read changed the nodes. */
  #notifyIf(changed: boolean): void {
    if (!changed || !this.#onChange || this.#closed) return;
    this.#health.events++;
    notifyListener(this.#onChange, this.#log, "file");
  }

  #fail(msg: string): void {
    this.#health = { connected: false, lastError: msg, events: this.#health.events };
    this.#log(`hostgate datastore file: ${msg}`);
  }
}
