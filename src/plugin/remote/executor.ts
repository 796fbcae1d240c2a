/**
 * The agent's side of plugin calls: runs a relayed call with the same
 * handlers and real dependencies as the plugin process (run.ts), many calls
 * at once in one process. What differs from the one-shot process:
 * - every call gets its own netlink, nftables, tc and conntrack sockets
 *   (opened on first use, closed when the call ends), so concurrent calls
 *   never share a socket's sequence numbers;
 * - files go through the synchronous calls (a few microseconds each) except
 *   the IPAM lock: calls of this process queue in memory per lock file, and
 *   only the queue's head waits for the flock (off the JS thread), so a lock
 *   held by another process never blocks the agent;
 * - the call's log lines come back in the answer, for the shim's stderr.
 * @module
 */
import { ALL_COMMANDS } from "../commands/mod.ts";
import { NetlinkConntrack } from "../../system/conntrack_netlink.ts";
import { type FileSystem, RealFileSystem, SyncFileSystem, type Unlock } from "../../system/fs.ts";
import { FfiNetlink } from "../../system/netlink/ffi_netlink.ts";
import type { Libc } from "../../system/netlink/libc.ts";
import { NetlinkTc } from "../../system/netlink/tc_handle.ts";
import { FfiNftSets } from "../../system/nftables/ffi_sets.ts";
import { type Program, runCall } from "../run.ts";
import { NO_TRACE } from "../trace.ts";
import type { RemoteAnswer, RemoteRequest } from "./frame.ts";

/** Every command with the kernel layers, as the per-command programs bring them. */
const ALL_PROGRAM: Program = {
  commands: ALL_COMMANDS,
  kernel: FfiNetlink,
  sets: FfiNftSets,
  tc: (libc) => new NetlinkTc({ libc }),
  conntrack: (libc) => new NetlinkConntrack({ libc }),
};

/** Largest log text one call returns; the rest is cut with a marker. */
const MAX_LOG_BYTES = 256 * 1024;

/**
 * Serialises `lock` per path inside this process, in front of the flock.
 * Two opens of one file in one process conflict under flock like two
 * processes do; queueing here keeps at most one waiter per file on the
 * thread pool and hands the lock over in arrival order.
 */
export function queuedLocks(
  lock: (path: string) => Promise<Unlock>,
): (path: string) => Promise<Unlock> {
  const tails = new Map<string, Promise<void>>();
  return async (path) => {
    const before = tails.get(path) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => release = r);
    const tail = before.then(() => mine);
    tails.set(path, tail);
    await before;
    const done = () => {
      if (tails.get(path) === tail) tails.delete(path);
      release();
    };
    let unlock: Unlock;
    try {
      unlock = await lock(path);
    } catch (e) {
      done();
      throw e;
    }
    return async () => {
      try {
        await unlock();
      } finally {
        done();
      }
    };
  };
}

/** The executor's file system: sync calls, queued async locks. */
export function serverFileSystem(): FileSystem {
  const sync = new SyncFileSystem();
  const real = new RealFileSystem();
  const lock = queuedLocks((p) => real.lock(p));
  return new Proxy(sync, {
    get(target, key) {
      if (key === "lock") return lock;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Options of `pluginExecutor`. */
export interface ExecutorOptions {
  /** The process's libc, opened on first use. */
  libc: () => Libc;
  /** Files (default: `serverFileSystem()`). */
  fs?: FileSystem;
  /** The program (default: every command with the real kernel layers); tests pass fakes. */
  program?: Program;
  /** Whether the agent sees a netns path (default: it exists here); tests pass their own. */
  netnsVisible?: (path: string) => boolean;
}

/**
 * The agent runs in its own mount namespace (a container): a netns path the
 * runtime made on the host may not be there. Such a call is declined and the
 * plugin runs it as before, never as a "netns gone" DEL or a failed ADD.
 */
function netnsVisible(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A function answering relayed calls; each runs on its own. */
export function pluginExecutor(
  opts: ExecutorOptions,
): (req: RemoteRequest) => Promise<RemoteAnswer> {
  const fs = opts.fs ?? serverFileSystem();
  const program = opts.program ?? ALL_PROGRAM;
  const visible = opts.netnsVisible ?? netnsVisible;
  return async (req) => {
    const netns = req.env["CNI_NETNS"] ?? "";
    if (netns !== "" && !visible(netns)) {
      return {
        stdout: "",
        exitCode: 1,
        stderr: "",
        declined: `netns ${netns} is not visible to the agent`,
      };
    }
    let log = "";
    const logSink = (line: string) => {
      if (log.length < MAX_LOG_BYTES) log += line;
      else if (!log.endsWith("[log cut]\n")) log += "[log cut]\n";
    };
    const out = await runCall(NO_TRACE, program, {
      env: req.env,
      stdin: req.stdin,
      logSink,
      fs,
      libc: opts.libc,
    });
    return { stdout: out.stdout, exitCode: out.exitCode, stderr: log };
  };
}
