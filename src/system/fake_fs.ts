/**
 * An in-memory `FileSystem` for unit tests: real directory semantics (a write
 * into a missing directory fails with `Deno.errors.NotFound`, just as on disk),
 * O_EXCL creates, atomic writes that never leave half a file, and flock
 * semantics between callers of one process (a second `lock` waits for the
 * first unlock). Faults are injected by operation, path predicate and call
 * count, and every call is recorded so tests can assert how much I/O a code
 * path does.
 * @module
 */
import type { DirEntry, FileSystem, PathStat, Unlock } from "./fs.ts";

/** The operations of `FileSystem`, as recorded and as targeted by faults. */
export type FsOp =
  | "readText"
  | "readBytes"
  | "writeAtomic"
  | "createExclusive"
  | "overwrite"
  | "remove"
  | "readDir"
  | "mkdirp"
  | "exists"
  | "lstat"
  | "lock";

/** Operations that change the tree; `"write"` in a fault means any of them. */
export const WRITE_OPS: readonly FsOp[] = [
  "writeAtomic",
  "createExclusive",
  "overwrite",
  "remove",
  "mkdirp",
];

/** One recorded call. */
export interface FsCall {
  op: FsOp;
  path: string;
}

/** Which calls a fault hits and what they throw. */
export interface FsFault {
  /** Operations hit; `"write"` stands for every op in WRITE_OPS. All ops when omitted. */
  op?: FsOp | "write" | readonly (FsOp | "write")[];
  /** Paths hit: exact path, regular expression or predicate. All paths when omitted. */
  path?: string | RegExp | ((path: string) => boolean);
  /** Fail only the n-th matching call (1-based); every matching call when omitted. */
  nth?: number;
  /** The error thrown; an `InjectedFault` naming op and path by default. */
  error?: Error | ((call: FsCall) => Error);
}

/** The default error of an injected fault. */
export class InjectedFault extends Error {
  readonly call: FsCall;
  constructor(call: FsCall) {
    super(`Cannot ${call.op} ${call.path}: injected fault`);
    this.name = "InjectedFault";
    this.call = call;
  }
}

interface ActiveFault {
  fault: FsFault;
  seen: number;
}

interface LockState {
  held: boolean;
  waiters: (() => void)[];
}

function normalize(path: string): string {
  if (!path.startsWith("/")) throw new TypeError(`Cannot use path ${path}: not absolute`);
  const parts: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return "/" + parts.join("/");
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Options of a new fake. */
export interface FakeFileSystemOptions {
  /** Initial files (absolute path -> content); parent directories are created. */
  files?: Record<string, string | Uint8Array>;
  /** Initial empty directories. */
  dirs?: string[];
  /** Stamps each write's mtime (for `lstat`); without it every mtime is 0. */
  clock?: { now(): number };
}

/** The in-memory file system. */
export class FakeFileSystem implements FileSystem {
  /** Every call in order. */
  readonly calls: FsCall[] = [];
  readonly #files = new Map<string, Uint8Array>();
  readonly #modes = new Map<string, number>();
  readonly #mtimes = new Map<string, number>();
  readonly #clock: { now(): number } | undefined;
  readonly #dirs = new Set<string>(["/"]);
  readonly #symlinks = new Set<string>();
  readonly #locks = new Map<string, LockState>();
  readonly #faults: ActiveFault[] = [];

  constructor(opts: FakeFileSystemOptions = {}) {
    this.#clock = opts.clock;
    for (const d of opts.dirs ?? []) this.#mkdirpSync(normalize(d));
    for (const [p, data] of Object.entries(opts.files ?? {})) this.setFile(p, data);
  }

  /** Adds a fault; returns a function that removes it again. */
  inject(fault: FsFault): () => void {
    const active: ActiveFault = { fault, seen: 0 };
    this.#faults.push(active);
    return () => {
      const i = this.#faults.indexOf(active);
      if (i >= 0) this.#faults.splice(i, 1);
    };
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Calls of `op` (optionally under `prefix`). */
  count(op: FsOp, prefix = "/"): number {
    return this.calls.filter((c) => c.op === op && c.path.startsWith(prefix)).length;
  }

  /** Sets a file directly (no fault, no record), creating parent directories. */
  setFile(path: string, data: string | Uint8Array): void {
    const p = normalize(path);
    this.#mkdirpSync(parentOf(p));
    this.#files.set(p, typeof data === "string" ? new TextEncoder().encode(data) : data.slice());
    this.#stamp(p);
  }

  /** Sets a path's mtime as `touch -d` would, for tests. */
  setMtime(path: string, ms: number): void {
    this.#mtimes.set(normalize(path), ms);
  }

  #stamp(p: string): void {
    this.#mtimes.set(p, this.#clock?.now() ?? 0);
  }

  /** lstat with mtime; recorded as op "lstat" (faults apply). */
  // deno-lint-ignore require-await
  async lstat(path: string): Promise<PathStat | undefined> {
    const p = normalize(path);
    this.#record("lstat", p);
    const mtime = this.#mtimes.get(p) ?? 0;
    if (this.#symlinks.has(p)) return { kind: "symlink", mtime };
    if (this.#dirs.has(p)) return { kind: "dir", mtime };
    return this.#files.has(p) ? { kind: "file", mtime } : undefined;
  }

  /** Marks `path` as a symlink for `lstatKind` (a directory swapped for a link). */
  setSymlink(path: string): void {
    this.#symlinks.add(normalize(path));
  }

  /** lstat: a marked symlink, a directory, a file, or undefined. */
  lstatKind(path: string): Promise<"file" | "dir" | "symlink" | undefined> {
    const p = normalize(path);
    if (this.#symlinks.has(p)) return Promise.resolve("symlink");
    if (this.#dirs.has(p)) return Promise.resolve("dir");
    return Promise.resolve(this.#files.has(p) ? "file" : undefined);
  }

  /** A file's text, read directly (no fault, no record). */
  file(path: string): string | undefined {
    const b = this.#files.get(normalize(path));
    return b === undefined ? undefined : new TextDecoder().decode(b);
  }

  /** Mode given at the last `writeAtomic` of `path`, if any. */
  modeOf(path: string): number | undefined {
    return this.#modes.get(normalize(path));
  }

  /** The FileSystem view of `modeOf`: 0o644 for a file written without one. */
  mode(path: string): Promise<number | undefined> {
    const p = normalize(path);
    if (!this.#files.has(p)) return Promise.resolve(undefined);
    return Promise.resolve(this.#modes.get(p) ?? 0o644);
  }

  /** Sets a file's mode as someone else would (chmod), for tests. */
  setMode(path: string, mode: number): void {
    this.#modes.set(normalize(path), mode);
  }

  /** Sorted paths of all files under `prefix`. */
  paths(prefix = "/"): string[] {
    const p = normalize(prefix);
    const under = p === "/" ? "/" : p + "/";
    return [...this.#files.keys()].filter((f) => f.startsWith(under)).sort();
  }

  /** True while some caller holds the flock on `path`. */
  isLocked(path: string): boolean {
    return this.#locks.get(normalize(path))?.held ?? false;
  }

  #record(op: FsOp, path: string): void {
    const call = { op, path };
    this.calls.push(call);
    for (const a of this.#faults) {
      const f = a.fault;
      const ops = f.op === undefined ? undefined : Array.isArray(f.op) ? f.op : [f.op];
      if (ops && !ops.some((o) => o === op || (o === "write" && WRITE_OPS.includes(op)))) continue;
      if (f.path !== undefined) {
        const hit = typeof f.path === "string"
          ? f.path === path
          : f.path instanceof RegExp
          ? f.path.test(path)
          : f.path(path);
        if (!hit) continue;
      }
      a.seen++;
      if (f.nth !== undefined && a.seen !== f.nth) continue;
      throw typeof f.error === "function" ? f.error(call) : f.error ?? new InjectedFault(call);
    }
  }

  #needDir(path: string, op: FsOp): void {
    const parent = parentOf(path);
    if (!this.#dirs.has(parent)) {
      throw new Deno.errors.NotFound(`Cannot ${op} ${path}: no directory ${parent}`);
    }
  }

  #mkdirpSync(path: string): void {
    const parts = path.split("/").filter(Boolean);
    let cur = "";
    for (const part of parts) {
      cur += "/" + part;
      if (this.#files.has(cur)) {
        throw new Deno.errors.AlreadyExists(`Cannot mkdir ${path}: ${cur} is a file`);
      }
      this.#dirs.add(cur);
    }
  }

  #read(path: string, op: FsOp): Uint8Array | undefined {
    const p = normalize(path);
    this.#record(op, p);
    if (this.#dirs.has(p)) throw new Deno.errors.IsADirectory(`Cannot read ${p}: a directory`);
    return this.#files.get(p)?.slice();
  }

  // deno-lint-ignore require-await
  async readText(path: string): Promise<string | undefined> {
    const b = this.#read(path, "readText");
    return b === undefined ? undefined : new TextDecoder().decode(b);
  }

  // deno-lint-ignore require-await
  async readBytes(path: string): Promise<Uint8Array | undefined> {
    return this.#read(path, "readBytes");
  }

  // deno-lint-ignore require-await
  async writeAtomic(
    path: string,
    data: string | Uint8Array,
    opts: { mode?: number } = {},
  ): Promise<void> {
    const p = normalize(path);
    this.#record("writeAtomic", p);
    this.#needDir(p, "writeAtomic");
    if (this.#dirs.has(p)) throw new Deno.errors.IsADirectory(`Cannot write ${p}: a directory`);
    this.#files.set(p, typeof data === "string" ? new TextEncoder().encode(data) : data.slice());
    this.#stamp(p);
    if (opts.mode !== undefined) this.#modes.set(p, opts.mode);
  }

  // deno-lint-ignore require-await
  async createExclusive(path: string, data: string): Promise<boolean> {
    const p = normalize(path);
    this.#record("createExclusive", p);
    this.#needDir(p, "createExclusive");
    if (this.#files.has(p) || this.#dirs.has(p)) return false;
    this.#files.set(p, new TextEncoder().encode(data));
    this.#stamp(p);
    return true;
  }

  // deno-lint-ignore require-await
  async overwrite(path: string, data: string): Promise<void> {
    const p = normalize(path);
    this.#record("overwrite", p);
    this.#needDir(p, "overwrite");
    if (this.#dirs.has(p)) throw new Deno.errors.IsADirectory(`Cannot write ${p}: a directory`);
    this.#files.set(p, new TextEncoder().encode(data));
    this.#stamp(p);
  }

  // deno-lint-ignore require-await
  async remove(path: string): Promise<boolean> {
    const p = normalize(path);
    this.#record("remove", p);
    if (this.#files.delete(p)) {
      this.#modes.delete(p);
      this.#mtimes.delete(p);
      return true;
    }
    if (this.#dirs.has(p) && p !== "/") {
      const under = p + "/";
      const busy = [...this.#files.keys(), ...this.#dirs].some((x) => x.startsWith(under));
      if (busy) throw new Error(`Cannot remove ${p}: directory not empty`);
      this.#dirs.delete(p);
      return true;
    }
    return false;
  }

  // deno-lint-ignore require-await
  async readDir(path: string): Promise<DirEntry[]> {
    const p = normalize(path);
    this.#record("readDir", p);
    if (!this.#dirs.has(p)) return [];
    const out: DirEntry[] = [];
    for (const f of this.#files.keys()) {
      if (parentOf(f) === p) out.push({ name: baseName(f), isFile: true, isDirectory: false });
    }
    for (const d of this.#dirs) {
      if (d !== "/" && parentOf(d) === p) {
        out.push({ name: baseName(d), isFile: false, isDirectory: true });
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // deno-lint-ignore require-await
  async mkdirp(path: string, _mode?: number): Promise<void> {
    const p = normalize(path);
    this.#record("mkdirp", p);
    this.#mkdirpSync(p);
  }

  // deno-lint-ignore require-await
  async exists(path: string): Promise<boolean> {
    const p = normalize(path);
    this.#record("exists", p);
    return this.#files.has(p) || this.#dirs.has(p);
  }

  async lock(path: string): Promise<Unlock> {
    const p = normalize(path);
    this.#record("lock", p);
    this.#needDir(p, "lock");
    if (this.#dirs.has(p)) throw new Deno.errors.IsADirectory(`Cannot lock ${p}: a directory`);
    if (!this.#files.has(p)) this.#files.set(p, new Uint8Array());
    let state = this.#locks.get(p);
    if (!state) {
      state = { held: false, waiters: [] };
      this.#locks.set(p, state);
    }
    const s = state;
    if (s.held) await new Promise<void>((resolve) => s.waiters.push(resolve));
    s.held = true;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        const next = s.waiters.shift();
        if (next) next(); // hand over directly: `held` stays true
        else s.held = false;
      }
      return Promise.resolve();
    };
  }
}
