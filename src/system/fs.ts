/**
 * File access behind a small interface: atomic writes (temp + rename) and
 * whole-operation locks (flock), so the IPAM store and the agent's installer
 * never leave half-written files and tests can run against an in-memory fake.
 *
 * Two real implementations: `RealFileSystem` (Deno's async calls, for the
 * long-running agent, whose event loop must keep serving while a file call
 * waits) and `SyncFileSystem` (Deno's *Sync calls, for the one-shot plugin).
 * @module
 */

/** Releases a lock taken with `FileSystem.lock`. */
export interface Unlock {
  (): Promise<void>;
}

/** One directory entry. */
export interface DirEntry {
  name: string;
  isFile: boolean;
  isDirectory: boolean;
}

/** What a path is, by lstat. */
export type PathKind = "file" | "dir" | "symlink" | "other";

function kindOf(i: Deno.FileInfo): PathKind {
  return i.isSymlink ? "symlink" : i.isDirectory ? "dir" : i.isFile ? "file" : "other";
}

/** What lstat tells of a path itself (a symlink is reported, never followed). */
export interface PathStat {
  kind: PathKind;
  /** Last modification, milliseconds since the epoch (0 when the platform has none). */
  mtime: number;
}

function statOf(i: Deno.FileInfo): PathStat {
  return { kind: kindOf(i), mtime: i.mtime?.getTime() ?? 0 };
}

/** Options of `FileSystem.writeAtomic`. */
export interface WriteOptions {
  mode?: number;
  /** fsync before the rename; default true. */
  durable?: boolean;
}

/** The file operations hostgate uses. Paths are absolute. */
export interface FileSystem {
  /** Text of a file, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** Bytes of a file, or undefined when it does not exist. */
  readBytes(path: string): Promise<Uint8Array | undefined>;
  /**
   * Writes through a temp file in the same directory and renames it into place.
   * `durable: false` skips the fsync: readers still never see a half-written
   * file, but a power loss may lose the write (fine for tmpfs state like IPAM).
   */
  writeAtomic(path: string, data: string | Uint8Array, opts?: WriteOptions): Promise<void>;
  /**
   * Creates a file only if absent (O_EXCL). Returns false when it exists.
   */
  createExclusive(path: string, data: string): Promise<boolean>;
  /**
   * Writes a file in place, as host-local writes its cursor: no temp file, no
   * rename, no fsync. The new bytes go over the old ones and the file is cut
   * to their length after: never truncated to zero first, which (like a
   * rename over a file) makes ext4 flush the data on close (auto_da_alloc).
   * After a killed writer a reader may see the new text with the old one's
   * tail: only for hints whose reader tolerates garbage. Optional: callers
   * fall back to `writeAtomic`.
   */
  overwrite?(path: string, data: string): Promise<void>;
  /**
   * Runs each kind of file call once against the existing directory `dir`
   * without changing anything, so the first real calls (in a critical
   * section under a lock) do not pay the runtime's first-call cost (about
   * half a millisecond each for Deno's sync file ops). Optional.
   */
  prime?(dir: string): Promise<void>;
  /** Removes a file; returns false when it did not exist. */
  remove(path: string): Promise<boolean>;
  /** Entries of a directory; [] when it does not exist. */
  readDir(path: string): Promise<DirEntry[]>;
  /**
   * What `path` itself is, never following a symlink (lstat): undefined when
   * absent. Optional: stores that must not be redirected (the IPAM dataDir)
   * refuse a symlink where they expect a directory.
   */
  lstatKind?(path: string): Promise<PathKind | undefined>;
  /**
   * Kind and modification time of `path` itself (lstat, never following a
   * symlink); undefined when absent. Optional: the IPAM store ages sticky
   * reservations by it and skips pruning without it.
   */
  lstat?(path: string): Promise<PathStat | undefined>;
  /** mkdir -p with a mode. */
  mkdirp(path: string, mode?: number): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Permission bits of a file (0o644), or undefined when it does not exist. */
  mode(path: string): Promise<number | undefined>;
  /** Takes an exclusive flock on `path` (created if absent), waiting for it. */
  lock(path: string): Promise<Unlock>;
}

function tempName(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16);
  const slash = path.lastIndexOf("/");
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.tmp-${Deno.pid}-${rand}`;
}

/** The real file system. */
export class RealFileSystem implements FileSystem {
  async readText(path: string): Promise<string | undefined> {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async readBytes(path: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async writeAtomic(
    path: string,
    data: string | Uint8Array,
    opts: WriteOptions = {},
  ): Promise<void> {
    const tmp = tempName(path);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    try {
      const f = await Deno.open(tmp, { write: true, createNew: true, mode: opts.mode ?? 0o644 });
      try {
        let off = 0;
        while (off < bytes.length) off += await f.write(bytes.subarray(off));
        if (opts.durable !== false) await f.syncData();
      } finally {
        f.close();
      }
      // The open mode is filtered by the umask; chmod makes it exact.
      if (opts.mode !== undefined) await Deno.chmod(tmp, opts.mode);
      await Deno.rename(tmp, path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  }

  async createExclusive(path: string, data: string): Promise<boolean> {
    let f: Deno.FsFile;
    try {
      f = await Deno.open(path, { write: true, createNew: true, mode: 0o644 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return false;
      throw e;
    }
    try {
      const bytes = new TextEncoder().encode(data);
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
    } catch (e) {
      f.close();
      await Deno.remove(path).catch(() => {});
      throw e;
    }
    f.close();
    return true;
  }

  async remove(path: string): Promise<boolean> {
    try {
      await Deno.remove(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  async readDir(path: string): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(path)) {
        out.push({ name: e.name, isFile: e.isFile, isDirectory: e.isDirectory });
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    return out;
  }

  async lstatKind(path: string): Promise<PathKind | undefined> {
    try {
      return kindOf(await Deno.lstat(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async lstat(path: string): Promise<PathStat | undefined> {
    try {
      return statOf(await Deno.lstat(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async overwrite(path: string, data: string): Promise<void> {
    const bytes = new TextEncoder().encode(data);
    using f = await Deno.open(path, { write: true, create: true, mode: 0o644 });
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.truncate(bytes.length);
  }

  async mkdirp(path: string, mode = 0o755): Promise<void> {
    await Deno.mkdir(path, { recursive: true, mode });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await Deno.lstat(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  async mode(path: string): Promise<number | undefined> {
    try {
      return ((await Deno.stat(path)).mode ?? 0) & 0o7777;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  async lock(path: string): Promise<Unlock> {
    const f = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    try {
      await f.lock(true);
    } catch (e) {
      f.close();
      throw e;
    }
    return async () => {
      try {
        await f.unlock();
      } finally {
        f.close();
      }
    };
  }
}

/**
 * The real file system through Deno's synchronous calls, behind the same
 * async interface. For the one-shot plugin process: it has nothing else to do
 * while a file call runs, and each async Deno file call is a round trip
 * through a thread pool (tens of microseconds, plus the pool's start-up on the
 * first call) where the sync call is one system call on the JS thread.
 * `lock` blocks the thread until the flock is granted: fine for a process
 * with one task, wrong for a server — the agent keeps `RealFileSystem`. Never
 * hold two locks of the same file at once in one process: flock conflicts
 * between two opens of one file, and the second would block the only thread
 * for good.
 */
export class SyncFileSystem implements FileSystem {
  readText(path: string): Promise<string | undefined> {
    return settle(() => {
      try {
        return Deno.readTextFileSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    });
  }

  readBytes(path: string): Promise<Uint8Array | undefined> {
    return settle(() => {
      try {
        return Deno.readFileSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    });
  }

  writeAtomic(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
    return settle(() => {
      const tmp = tempName(path);
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      try {
        const f = Deno.openSync(tmp, { write: true, createNew: true, mode: opts.mode ?? 0o644 });
        try {
          writeAllSync(f, bytes);
          if (opts.durable !== false) f.syncDataSync();
        } finally {
          f.close();
        }
        // The open mode is filtered by the umask; chmod makes it exact.
        if (opts.mode !== undefined) Deno.chmodSync(tmp, opts.mode);
        Deno.renameSync(tmp, path);
      } catch (e) {
        try {
          Deno.removeSync(tmp);
        } catch {
          // never created, or already renamed
        }
        throw e;
      }
    });
  }

  createExclusive(path: string, data: string): Promise<boolean> {
    return settle(() => {
      let f: Deno.FsFile;
      try {
        f = Deno.openSync(path, { write: true, createNew: true, mode: 0o644 });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) return false;
        throw e;
      }
      try {
        writeAllSync(f, new TextEncoder().encode(data));
      } catch (e) {
        f.close();
        try {
          Deno.removeSync(path);
        } catch {
          // best effort: the caller sees the write error
        }
        throw e;
      }
      f.close();
      return true;
    });
  }

  overwrite(path: string, data: string): Promise<void> {
    return settle(() => {
      const bytes = new TextEncoder().encode(data);
      using f = Deno.openSync(path, { write: true, create: true, mode: 0o644 });
      writeAllSync(f, bytes);
      f.truncateSync(bytes.length);
    });
  }

  /**
   * Warms what a locked IPAM section calls: a listing (first entry only), an
   * open (read-only, of `dir` itself: never creates), a read that fails (a
   * directory), the encoder and the temp-name random source. Nothing is
   * created, changed or left open; every error is expected and ignored.
   */
  prime(dir: string): Promise<void> {
    return settle(() => {
      for (
        const call of [
          () => {
            for (const _ of Deno.readDirSync(dir)) break;
          },
          () => Deno.openSync(dir, { read: true }).close(),
          () => Deno.readTextFileSync(dir),
        ]
      ) {
        try {
          call();
        } catch {
          // expected: IsADirectory (or no directory: nothing to warm)
        }
      }
      new TextEncoder().encode(dir);
      tempName(`${dir}/x`);
    });
  }

  remove(path: string): Promise<boolean> {
    return settle(() => {
      try {
        Deno.removeSync(path);
        return true;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return false;
        throw e;
      }
    });
  }

  readDir(path: string): Promise<DirEntry[]> {
    return settle(() => {
      const out: DirEntry[] = [];
      try {
        for (const e of Deno.readDirSync(path)) {
          out.push({ name: e.name, isFile: e.isFile, isDirectory: e.isDirectory });
        }
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return [];
        throw e;
      }
      return out;
    });
  }

  lstatKind(path: string): Promise<PathKind | undefined> {
    return settle(() => {
      try {
        return kindOf(Deno.lstatSync(path));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    });
  }

  lstat(path: string): Promise<PathStat | undefined> {
    return settle(() => {
      try {
        return statOf(Deno.lstatSync(path));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    });
  }

  mkdirp(path: string, mode = 0o755): Promise<void> {
    return settle(() => Deno.mkdirSync(path, { recursive: true, mode }));
  }

  mode(path: string): Promise<number | undefined> {
    return settle(() => {
      try {
        return (Deno.statSync(path).mode ?? 0) & 0o7777;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    });
  }

  exists(path: string): Promise<boolean> {
    return settle(() => {
      try {
        Deno.lstatSync(path);
        return true;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return false;
        throw e;
      }
    });
  }

  lock(path: string): Promise<Unlock> {
    return settle(() => {
      const f = Deno.openSync(path, { read: true, write: true, create: true, mode: 0o600 });
      try {
        f.lockSync(true);
      } catch (e) {
        f.close();
        throw e;
      }
      return () =>
        settle(() => {
          try {
            f.unlockSync();
          } finally {
            f.close();
          }
        });
    });
  }
}

/** Runs a synchronous body as a settled promise: its value, or its error as a rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

function writeAllSync(f: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
}
