/**
 * NetworkPolicy inputs from a folder (`<dir>/policy/`): YAML or JSON files
 * holding NetworkPolicy, Pod and Namespace objects (several documents per
 * file, or a `kind: List`), the same objects `kubectl get -o yaml` prints.
 * The folder is re-read whole on every change (inotify) and every 60 s; a
 * file that cannot be parsed keeps the last good snapshot of that file, so
 * a half-written edit never opens a hole in policy.
 * @module
 */
import type { FileSystem } from "../../system/fs.ts";
import { RealFileSystem } from "../../system/fs.ts";
import { type PolicyKind, type PolicySource, ProjectedStore } from "../../agent/policy/source.ts";
import type { PolicyInput } from "../../agent/policy/types.ts";
import type { DirWatch, WatchDir } from "./datastore.ts";

const denoWatchDir: WatchDir = (path) => Deno.watchFs(path, { recursive: false });

/** The full re-read besides the watch: a net under missed events only. */
const DEFAULT_RESCAN_INTERVAL_MS = 60_000;
/** Wait before watching a folder that went missing again. */
const WATCH_RETRY_MS = 1_000;

/** The folder of policy objects inside a file datastore directory. */
export function policyDir(dir: string): string {
  return `${dir}/policy`;
}

/** Options of `FilePolicySource`. */
export interface FilePolicySourceOptions {
  /** The datastore directory; objects are read from `<dir>/policy/`. */
  dir: string;
  fs?: FileSystem;
  watchDir?: WatchDir;
  /** Rescan period in ms (a net under missed events); default 60 s, 0 disables. */
  rescanIntervalMs?: number;
  log?: (msg: string) => void;
}

const KINDS = new Set<string>(["NetworkPolicy", "Pod", "Namespace"]);

/**
 * The objects of one file's text (YAML documents, Lists flattened). Throws on
 * a parse error. JSON is parsed as JSON; the YAML parser is imported only for
 * YAML text, so an agent without YAML policy files never loads it.
 */
export async function objectsOfText(text: string): Promise<{ kind: PolicyKind; obj: unknown }[]> {
  const out: { kind: PolicyKind; obj: unknown }[] = [];
  const add = (o: unknown) => {
    const kind = (o as { kind?: unknown })?.kind;
    if (kind === "List") {
      for (const i of (o as { items?: unknown[] }).items ?? []) add(i);
    } else if (typeof kind === "string" && KINDS.has(kind)) {
      out.push({ kind: kind as PolicyKind, obj: o });
    }
  };
  const t = text.trimStart();
  if (t.startsWith("{") || t.startsWith("[")) {
    const parsed: unknown = JSON.parse(text);
    for (const o of Array.isArray(parsed) ? parsed : [parsed]) add(o);
    return out;
  }
  const { parseAllDocuments } = await import("./yaml.ts");
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(doc.errors[0]!.message);
    add(doc.toJS());
  }
  return out;
}

/** See the module doc. */
export class FilePolicySource implements PolicySource {
  readonly #o: FilePolicySourceOptions;
  readonly #fs: FileSystem;
  readonly #store = new ProjectedStore();
  readonly #lastGood = new Map<string, { kind: PolicyKind; obj: unknown }[]>();
  #synced = false;
  #onChange: () => void = () => {};
  #watch: DirWatch | undefined;
  #loop: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #scan: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #snapshot = "";

  constructor(opts: FilePolicySourceOptions) {
    this.#o = opts;
    this.#fs = opts.fs ?? new RealFileSystem();
  }

  async start(onChange: () => void): Promise<void> {
    this.#onChange = onChange;
    await this.#fs.mkdirp(policyDir(this.#o.dir));
    // Watch first, then read: a file written in between is seen by one or the other.
    this.#openWatch();
    await this.rescan();
    const every = this.#o.rescanIntervalMs ?? DEFAULT_RESCAN_INTERVAL_MS;
    if (every > 0) {
      this.#timer = setInterval(() => {
        if (!this.#watch) this.#openWatch();
        void this.rescan();
      }, every);
    }
  }

  input(): PolicyInput | undefined {
    return this.#synced ? this.#store.input() : undefined;
  }

  rejected(): Map<string, string[]> {
    return new Map(this.#store.rejected);
  }

  /** Re-reads the folder (coalescing overlapping requests). */
  rescan(): Promise<void> {
    if (this.#scan) {
      this.#again = true;
      return this.#scan;
    }
    this.#scan = (async () => {
      try {
        do {
          this.#again = false;
          await this.#read();
        } while (this.#again && !this.#closed);
      } finally {
        this.#scan = undefined;
      }
    })();
    return this.#scan;
  }

  async #read(): Promise<void> {
    const dir = policyDir(this.#o.dir);
    let names: string[];
    try {
      names = (await this.#fs.readDir(dir))
        .map((e) => e.name)
        .filter((n) => /\.(ya?ml|json)$/.test(n) && !n.startsWith("."))
        .sort();
    } catch (e) {
      this.#o.log?.(`hostgate policy folder: Cannot read ${dir}: ${(e as Error).message}`);
      return;
    }
    for (const k of [...this.#lastGood.keys()]) if (!names.includes(k)) this.#lastGood.delete(k);
    for (const n of names) {
      const text = await this.#fs.readText(`${dir}/${n}`);
      if (text === undefined) {
        this.#lastGood.delete(n);
        continue;
      }
      try {
        this.#lastGood.set(n, await objectsOfText(text));
      } catch (e) {
        this.#o.log?.(
          `hostgate policy folder: keeping the last good ${n}: ${(e as Error).message}`,
        );
      }
    }
    const all = [...this.#lastGood.values()].flat();
    const snapshot = JSON.stringify(all);
    const first = !this.#synced;
    this.#synced = true;
    if (snapshot === this.#snapshot && !first) return;
    this.#snapshot = snapshot;
    this.#store.replace(all);
    if (!this.#closed) this.#onChange();
  }

  #openWatch(): void {
    if (this.#closed) return;
    let w: DirWatch;
    try {
      w = (this.#o.watchDir ?? denoWatchDir)(policyDir(this.#o.dir));
    } catch {
      this.#retryWatch(); // the folder is missing: look again soon
      return;
    }
    this.#watch = w;
    this.#loop = (async () => {
      try {
        for await (const _ of w) void this.rescan();
      } catch {
        // reopened below
      }
      if (this.#watch === w) {
        this.#watch = undefined;
        this.#retryWatch(); // the folder went (or moved): follow the path, not the old folder
      }
    })();
  }

  /** Reopens the watch (and reads the folder) after WATCH_RETRY_MS, until it opens. */
  #retryWatch(): void {
    if (this.#closed || this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#closed || this.#watch) return;
      this.#openWatch();
      if (this.#watch) void this.rescan();
    }, WATCH_RETRY_MS);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    clearTimeout(this.#retry);
    const w = this.#watch;
    this.#watch = undefined;
    try {
      w?.close();
    } catch {
      // already closed
    }
    await this.#loop;
    await this.#scan;
  }
}
