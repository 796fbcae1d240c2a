/**
 * The CNI_* environment turned into typed arguments, validated the way
 * libcni's skel does, so a bad runtime call fails with code 4 before any
 * state is touched.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { type CniArgs, parseCniArgs } from "./args.ts";
import { quote } from "./decode.ts";
import { type CniCommand, COMMANDS } from "./version.ts";

/** What the runtime told the plugin through its environment. */
export interface CniEnv {
  command: CniCommand;
  /** CNI_CONTAINERID; "" for GC, STATUS and VERSION. */
  containerId: string;
  /** CNI_NETNS; "" when absent (allowed for DEL). */
  netns: string;
  /** CNI_IFNAME; "" for GC, STATUS and VERSION. */
  ifname: string;
  args: CniArgs;
  /** CNI_PATH split on ":". */
  path: string[];
}

/** Which variables each command needs (skel's reqForCmd table). */
const REQUIRED: Readonly<Record<CniCommand, readonly string[]>> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  GC: ["CNI_PATH"],
  STATUS: ["CNI_PATH"],
  VERSION: [],
};

/**
 * The spec's pattern for container IDs and network names, and the plugin
 * name rule of `type` and `ipam.type` (a file name in CNI_PATH, never a path).
 */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** Linux IFNAMSIZ less the terminating NUL: the longest interface name in bytes. */
export const MAX_IFNAME_BYTES = 15;

function envError(msg: string): CniError {
  return new CniError(CniCode.InvalidEnvironment, msg);
}

/** Throws unless `id` is a valid container ID (the spec's pattern). */
export function validateContainerId(id: string): void {
  if (!NAME_PATTERN.test(id)) {
    throw envError(`Cannot use CNI_CONTAINERID ${quote(id)}: invalid characters`);
  }
}

/** Why `name` cannot be a Linux interface name, or undefined when it can. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (new TextEncoder().encode(name).length > MAX_IFNAME_BYTES) {
    return `is longer than ${MAX_IFNAME_BYTES} bytes`;
  }
  if (name === "." || name === "..") return "is . or ..";
  if (/[/:\s]/.test(name)) return "contains /, : or whitespace";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return "contains control characters";
  return undefined;
}

/** CNI_PATH's directories, in order, empty entries dropped. */
export function cniPathDirs(path: string | readonly string[] | undefined): string[] {
  const dirs = typeof path === "string" ? path.split(":") : [...(path ?? [])];
  return dirs.filter((d) => d !== "");
}

/** What `encodeEnv` writes: one call to another plugin (a delegated IPAM plugin). */
export interface EnvCall {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** Raw CNI_ARGS, passed on unchanged. */
  args?: string;
  /** CNI_PATH as text or directories. */
  path?: string | readonly string[];
}

/** The CNI_* variables of `call`, every one present ("" when unset), as libcni sets them. */
export function encodeEnv(call: EnvCall): Record<string, string> {
  return {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? "",
    CNI_NETNS: call.netns ?? "",
    CNI_IFNAME: call.ifname ?? "",
    CNI_ARGS: call.args ?? "",
    CNI_PATH: cniPathDirs(call.path).join(":"),
  };
}

/**
 * Reads the CNI_* variables from `env` (a plain record so tests need no real
 * environment) and validates them for the command given in CNI_COMMAND.
 */
export function parseEnv(env: Record<string, string | undefined>): CniEnv {
  const cmd = env["CNI_COMMAND"];
  if (cmd === undefined || cmd === "") throw envError("Cannot run: CNI_COMMAND is not set");
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    throw envError(`Cannot run: unknown CNI_COMMAND ${quote(cmd)}`);
  }
  const command = cmd as CniCommand;
  const missing = REQUIRED[command].filter((k) => (env[k] ?? "") === "");
  if (missing.length > 0) {
    throw envError(`Cannot run ${command}: required ${missing.join(", ")} not set`);
  }
  const needsAttachment = command === "ADD" || command === "DEL" || command === "CHECK";
  const containerId = needsAttachment ? env["CNI_CONTAINERID"] ?? "" : "";
  const ifname = needsAttachment ? env["CNI_IFNAME"] ?? "" : "";
  const netns = needsAttachment ? env["CNI_NETNS"] ?? "" : "";
  if (needsAttachment) {
    validateContainerId(containerId);
    const why = interfaceNameProblem(ifname);
    if (why) throw envError(`Cannot use CNI_IFNAME ${quote(ifname)}: ${why}`);
    if (netns !== "" && !netns.startsWith("/")) {
      throw envError(`Cannot use CNI_NETNS ${quote(netns)}: not an absolute path`);
    }
  }
  return {
    command,
    containerId,
    netns,
    ifname,
    args: parseCniArgs(env["CNI_ARGS"]),
    path: cniPathDirs(env["CNI_PATH"]),
  };
}
