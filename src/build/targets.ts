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

/** Every program, plugin first. */
export const ENTRY_POINTS: readonly Target[] = [
  {
    name: "hostgate",
    entry: "src/plugin/main.ts",
    // read/write: CNI dirs, IPAM store, netns paths, /proc/sys; ffi: netlink and setns;
    // run: delegated IPAM plugins; net: the Kubernetes API in IPPool mode; env: CNI_*.
    permissions: [
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-run",
      "--allow-env",
      "--allow-net",
      "--allow-sys",
    ],
  },
  {
    name: "hostgate-agent",
    entry: "src/agent/main.ts",
    // as the plugin, plus net to serve health and metrics and reach the datastore.
    permissions: [
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-run",
      "--allow-env",
      "--allow-net",
      "--allow-sys",
    ],
  },
];

/** The permission flags of a target. */
export function permissionFlags(target: Target): string[] {
  return [...target.permissions];
}
