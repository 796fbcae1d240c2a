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
 * V8 flags baked into both programs. `--no-lazy` compiles every function up
 * front, so Deno's code cache holds the whole program after the first run:
 * a plugin process then skips most parsing (measured: ADD CPU 47 -> 41 ms,
 * 20-way parallel ADD 38 -> 56 per second).
 */
export const V8_FLAGS: readonly string[] = ["--v8-flags=--no-lazy"];

/** Every program, plugin first. */
export const ENTRY_POINTS: readonly Target[] = [
  { name: "hostgate", entry: "src/plugin/main.ts", permissions: [...PERMISSIONS] },
  { name: "hostgate-agent", entry: "src/agent/main.ts", permissions: [...PERMISSIONS] },
];

/** The permission flags of a target. */
export function permissionFlags(target: Target): string[] {
  return [...target.permissions];
}
