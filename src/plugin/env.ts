/**
 * The CNI_* environment turned into typed arguments, validated the way
 * libcni's skel does, so a bad runtime call fails with code 4 before any
 * state is touched.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import { isIpAddress } from "./ip.ts";
import type { CniCommand } from "./version.ts";

/** Parsed CNI_ARGS ("K1=V1;K2=V2"). */
export interface CniArgs {
  /** Every pair as given. */
  pairs: Record<string, string>;
  /** Addresses requested with `IP=` (comma separated), in order. */
  ips: string[];
  /** K8S_POD_NAMESPACE, enables sticky IPs with podName. */
  podNamespace?: string;
  /** K8S_POD_NAME. */
  podName?: string;
}

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

const COMMANDS: readonly CniCommand[] = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"];

/** Which variables each command needs (skel's reqForCmd table). */
const REQUIRED: Record<CniCommand, readonly string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  GC: ["CNI_PATH"],
  STATUS: ["CNI_PATH"],
  VERSION: [],
};

const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

function envError(msg: string): CniError {
  return new CniError(CniCode.InvalidEnvironment, msg);
}

/** Throws unless `id` is a valid container ID (the spec's pattern). */
export function validateContainerId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw envError(`Cannot use CNI_CONTAINERID ${JSON.stringify(id)}: invalid characters`);
  }
}

/** Why `name` cannot be a Linux interface name, or undefined when it can. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (new TextEncoder().encode(name).length > 15) return "is longer than 15 bytes";
  if (name === "." || name === "..") return "is . or ..";
  if (/[/:\s]/.test(name)) return "contains /, : or whitespace";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return "contains control characters";
  return undefined;
}

/** Parses CNI_ARGS; a pair without "=" or with an empty key is error 4. */
export function parseCniArgs(raw: string): CniArgs {
  const out: CniArgs = { pairs: {}, ips: [] };
  if (raw.trim() === "") return out;
  for (const part of raw.split(";")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) {
      throw envError(`Cannot parse CNI_ARGS: ${JSON.stringify(part)} is not KEY=VALUE`);
    }
    out.pairs[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const ip = out.pairs["IP"];
  if (ip !== undefined) {
    out.ips = ip.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const a of out.ips) {
      if (!isIpAddress(a)) {
        throw envError(`Cannot parse CNI_ARGS: IP=${a} is not an IP address`);
      }
    }
  }
  const ns = out.pairs["K8S_POD_NAMESPACE"];
  const pod = out.pairs["K8S_POD_NAME"];
  if (ns) out.podNamespace = ns;
  if (pod) out.podName = pod;
  return out;
}

/**
 * Reads the CNI_* variables from `env` (a plain record so tests need no real
 * environment) and validates them for the command given in CNI_COMMAND.
 */
export function parseEnv(env: Record<string, string | undefined>): CniEnv {
  const cmd = env["CNI_COMMAND"];
  if (cmd === undefined || cmd === "") throw envError("Cannot run: CNI_COMMAND is not set");
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    throw envError(`Cannot run: unknown CNI_COMMAND ${JSON.stringify(cmd)}`);
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
    if (why) throw envError(`Cannot use CNI_IFNAME ${JSON.stringify(ifname)}: ${why}`);
    if (netns !== "" && !netns.startsWith("/")) {
      throw envError(`Cannot use CNI_NETNS ${JSON.stringify(netns)}: not an absolute path`);
    }
  }
  return {
    command,
    containerId,
    netns,
    ifname,
    args: parseCniArgs(env["CNI_ARGS"] ?? ""),
    path: (env["CNI_PATH"] ?? "").split(":").filter((p) => p !== ""),
  };
}
