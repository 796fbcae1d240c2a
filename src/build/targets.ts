/**
 * The two programs hostgate ships and the permissions each gets, shared by
 * the bundle and compile tasks so both artefacts behave the same.
 * @module
 */

/** One program built from one entry point. */
export interface Target {
  /** Output file name. */
  name: string;
  /** Entry point, relative to the repository root. */
  entry: string;
  /** Deno permission flags, narrow on purpose. */
  permissions: string[];
  /** V8 flags baked into the program (bundle shebang and `deno compile`). */
  v8Flags: readonly string[];
  /** Minify the bundle: less source to parse and keep in memory at every start. */
  minify?: boolean;
  /**
   * DENO_DIR the bundle's shebang sets (Deno keeps its V8 code cache and the
   * module analysis there), so the program's start does not depend on the
   * caller's HOME or DENO_DIR. Unset: Deno's default, from the caller.
   */
  codeCacheDir?: string;
  /**
   * A directory of programs the entry imports dynamically, one per command
   * (src/plugin/program/): bundled as one file each beside the entry, so a
   * call loads only its command's code (`deno compile` keeps dynamically
   * imported modules apart by itself).
   */
  programs?: string;
  /**
   * Split the bundle: what is imported dynamically (the Kubernetes and etcd
   * datastores, with client-node and etcd3) goes to chunk files beside the
   * program, in `<name>.chunks/`, loaded only when configured. An agent on
   * the file datastore then never parses ~2 MB of clients it does not use.
   */
  split?: boolean;
}

/**
 * Both programs need the same access: read/write for CNI dirs, the IPAM store,
 * netns paths and /proc; ffi for netlink and setns; run for delegated IPAM
 * plugins and iptables; env for CNI_* and flags; net for the Kubernetes API
 * (IPPool mode), the datastore and the agent's health server; sys for the
 * hostname.
 */
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-run",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
] as const;

/**
 * V8 flags of the plugin. `--no-lazy` compiles every function up front, so
 * the V8 code cache Deno stores after the first call (in PLUGIN_CODE_CACHE_DIR)
 * holds the whole program, whichever command wrote it; later calls then
 * compile nothing. Lazy compilation would store only the functions the first
 * call ran (an error path, or VERSION when a runtime's first call is VERSION,
 * as podman's is) and every later ADD would compile its path again.
 * Measured with the per-command programs and the project's cache, interleaved,
 * CPU per call, eager vs lazy: bare environment ADD 43.1 vs 49.4 ms, DEL
 * 39.5 vs 43.5, VERSION 25.2 vs 25.7; runtime environment ADD 39.4 vs 45.6,
 * DEL 33.2 vs 36.7, VERSION 21.0 vs 20.9 (the entry is too small to differ).
 * Eager loses only when no cache can be used at all (an unwritable DENO_DIR:
 * ADD 86.9 vs 77.9 ms with the single-file bundle), which the project-owned
 * cache directory rules out.
 */
export const PLUGIN_V8_FLAGS: readonly string[] = ["--no-lazy"];

/**
 * Where the plugin bundle keeps Deno's caches (DENO_DIR in its shebang).
 * A runtime calls the plugin with its own environment: containerd under
 * systemd often without HOME, podman with a user's. Deno's default cache
 * follows HOME, XDG_CACHE_HOME or the passwd entry, and without any usable
 * one it parses and compiles the whole bundle on every call (ADD 87 ms of
 * CPU instead of 41). A fixed directory the project owns makes every call
 * find the same cache. Concurrent calls are safe: the caches are SQLite
 * databases (20 calls racing on an empty directory all succeed and leave one
 * code cache entry); V8 checks a cache's source hash and flags before using
 * it; an unusable directory only costs speed, never the call. Override at
 * build time with HOSTGATE_CODE_CACHE_DIR (empty: Deno's default).
 */
export const PLUGIN_CODE_CACHE_DIR: string = Deno.env.get("HOSTGATE_CODE_CACHE_DIR") ??
  "/var/cache/hostgate/deno";

/**
 * V8 flags of the agent, a long-running daemon on every node where memory
 * counts more than a few ms of GC. A 1 MiB semi-space (default 16 MiB, and
 * V8 keeps several) cuts the resident size by ~30 MiB with 5,000 nodes and no
 * measurable cost to a cold start. Not `--no-lazy`: the agent bundle carries
 * the Kubernetes and etcd clients, and compiling all of them up front made a
 * cold start slower (+250 ms) and bigger (+10-50 MiB).
 *
 * `--optimize-for-size` makes V8 grow the old generation in smaller steps
 * and collect sooner: the initial LIST's garbage (decode scratch, reconcile
 * pass temporaries) no longer piles up in 256 KiB heap pages before the
 * first full GC. 20,000 kubelet Nodes, interleaved runs: peak 156-168 vs
 * 213-224 MiB, 2 s after convergence 125-143 vs 213-223 MiB, cold start
 * unchanged within the machine's noise. The memory reducer (the GCs that
 * return free pages to the OS once allocation calms down) may start 1 s
 * after a GC instead of 30 s: the heap pages freed after the initial sync
 * go back within seconds (20,000 Nodes, 12 s after convergence: 94 vs
 * 139 MiB). (`--memory-reducer-delay-ms` is not the one: it changed
 * nothing.)
 */
export const AGENT_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--optimize-for-size",
  "--gc-memory-reducer-start-delay-ms=1000",
];

/** Every program, plugin first. */
export const ENTRY_POINTS: readonly Target[] = [
  {
    name: "hostgate",
    entry: "src/plugin/main.ts",
    permissions: [...PERMISSIONS],
    v8Flags: PLUGIN_V8_FLAGS,
    codeCacheDir: PLUGIN_CODE_CACHE_DIR || undefined,
    programs: "src/plugin/program",
  },
  {
    name: "hostgate-agent",
    entry: "src/agent/cli/main.ts",
    permissions: [...PERMISSIONS],
    v8Flags: AGENT_V8_FLAGS,
    minify: true,
    split: true,
  },
];

/** The `--v8-flags=...` argument of a target (none when it has no flags). */
export function v8FlagArgs(target: Target): string[] {
  return target.v8Flags.length > 0 ? [`--v8-flags=${target.v8Flags.join(",")}`] : [];
}

/** The permission flags of a target. */
export function permissionFlags(target: Target): string[] {
  return [...target.permissions];
}
