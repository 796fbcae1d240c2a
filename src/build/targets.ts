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
 * Deno's code cache holds the whole program after the first run: a plugin
 * process then skips most parsing (measured: ADD CPU 47 -> 41 ms, 20-way
 * parallel ADD 38 -> 56 per second).
 */
export const PLUGIN_V8_FLAGS: readonly string[] = ["--no-lazy"];

/**
 * V8 flags of the agent, a long-running daemon on every node where memory
 * counts more than a few ms of GC. A 1 MiB semi-space (default 16 MiB, and
 * V8 keeps several) cuts the resident size by ~30 MiB with 5,000 nodes and no
 * measurable cost to a cold start. Not `--no-lazy`: the agent bundle carries
 * the Kubernetes and etcd clients, and compiling all of them up front made a
 * cold start slower (+250 ms) and bigger (+10-50 MiB).
 */
export const AGENT_V8_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/** Every program, plugin first. */
export const ENTRY_POINTS: readonly Target[] = [
  {
    name: "hostgate",
    entry: "src/plugin/main.ts",
    permissions: [...PERMISSIONS],
    v8Flags: PLUGIN_V8_FLAGS,
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
