/**
 * The network configuration on stdin, decoded and validated. Every invalid
 * value is CNI error 7 naming its key, so an operator sees at once which
 * line of the conflist is wrong; unknown keys pass through untouched
 * (chained plugins and newer runtimes add their own).
 * @module
 */
import { CniCode, CniError, invalidConfig } from "../errors.ts";
import type { Attachment } from "../ipam/types.ts";
import { interfaceNameProblem } from "./env.ts";
import { isIpAddress } from "./ip.ts";
import { type CniResult, decodeDns, decodeResult, type ResultDns } from "./result.ts";
import type { CniCommand } from "./version.ts";
import { requireVersion } from "./version.ts";

/** Log levels, most verbose first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** The `ipam` section: its `type` picks the backend, the rest is the backend's. */
export interface IpamConf {
  type: string;
  [key: string]: unknown;
}

/**
 * How a pod is wired: "routed" (a veth per pod, /32 and /128 with a
 * link-local gateway and a host route per pod, no bridge) or "bridge" (every
 * pod's veth on one bridge holding the subnet gateway).
 */
export type PodMode = "routed" | "bridge";

/** A validated hostgate network configuration. */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  /** "bridge" when absent (the shape of configs written before routed mode existed). */
  mode: PodMode;
  /** Per-pod anti-spoofing (own addresses and MAC only); on unless `"antiSpoofing": false`. */
  antiSpoofing: boolean;
  /** Bridge the pods attach to (default "hostgate0"). */
  bridge: string;
  /** Put the gateway addresses on the bridge (implied by isDefaultGateway). */
  isGateway: boolean;
  /** Add default routes in the pod via the gateways. */
  isDefaultGateway: boolean;
  /** MTU of the bridge and both veth ends; kernel default when absent. */
  mtu?: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  ipam: IpamConf;
  /** The config's own `dns`, used when the IPAM result carries none. */
  dns: ResultDns;
  /** Addresses asked for through runtimeConfig.ips or args.cni.ips. */
  requestedIps: string[];
  /** The result of the plugins before this one in a chain. */
  prevResult?: CniResult;
  /** GC: attachments the runtime still uses. */
  validAttachments?: Attachment[];
  /** Log to this file instead of stderr. */
  logFile?: string;
  logLevel?: LogLevel;
  /** The whole decoded object, for the IPAM backend and pass-through. */
  raw: Record<string, unknown>;
}

/** Default bridge name. */
export const DEFAULT_BRIDGE = "hostgate0";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Decodes stdin into an object; anything else is error 6. */
export function decodeStdin(stdin: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(
      CniCode.DecodeFailure,
      `Cannot decode config: ${(e as Error).message}`,
      "stdin must hold one JSON object",
    );
  }
  if (!isObject(v)) {
    throw new CniError(CniCode.DecodeFailure, "Cannot decode config: stdin is not a JSON object");
  }
  return v;
}

/** The config's cniVersion; not a string is error 6, absent is the pre-1.0 default "0.1.0". */
export function configVersion(raw: Record<string, unknown>): string {
  const v = raw["cniVersion"];
  if (v === undefined || v === "") return "0.1.0";
  if (typeof v !== "string") {
    throw new CniError(CniCode.DecodeFailure, "Cannot decode config: cniVersion is not a string");
  }
  return v;
}

/** A boolean key, false when absent. */
function bool(raw: Record<string, unknown>, key: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw invalidConfig(key, "must be true or false");
  return v;
}

function ipList(v: unknown, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw invalidConfig(key, "must be an array of IP address strings");
  }
  for (const s of v as string[]) {
    if (!isIpAddress(s.split("/")[0]!)) throw invalidConfig(key, `holds ${s}, not an IP address`);
  }
  return [...v] as string[];
}

function parseAttachments(raw: Record<string, unknown>): Attachment[] | undefined {
  const key = raw["cni.dev/valid-attachments"] !== undefined
    ? "cni.dev/valid-attachments"
    : "cni.dev/attachments";
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalidConfig(key, "must be an array");
  return v.map((a, n) => {
    if (!isObject(a) || typeof a["containerID"] !== "string" || typeof a["ifname"] !== "string") {
      throw invalidConfig(`${key}[${n}]`, "must be {containerID, ifname} strings");
    }
    return { containerId: a["containerID"], ifname: a["ifname"] };
  });
}

function parseMtu(v: unknown): number | undefined {
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 68 || v > 65535) {
    throw invalidConfig("mtu", "must be an integer from 68 to 65535");
  }
  return v;
}

function parseName(v: unknown): string {
  if (typeof v !== "string" || v === "") throw invalidConfig("name", "is required");
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/.test(v)) {
    throw invalidConfig("name", `${JSON.stringify(v)} has invalid characters`);
  }
  return v;
}

function parseIpam(v: unknown): IpamConf {
  if (v === undefined || v === null) throw invalidConfig("ipam", "is required");
  if (!isObject(v)) throw invalidConfig("ipam", "must be an object");
  if (typeof v["type"] !== "string" || v["type"] === "") {
    throw invalidConfig("ipam.type", "must be a non-empty string");
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/.test(v["type"])) {
    throw invalidConfig("ipam.type", `${JSON.stringify(v["type"])} is not a plugin name`);
  }
  return v as IpamConf;
}

function parseLog(raw: Record<string, unknown>): { logFile?: string; logLevel?: LogLevel } {
  const out: { logFile?: string; logLevel?: LogLevel } = {};
  const file = raw["logFile"];
  if (file !== undefined && file !== null && file !== "") {
    if (typeof file !== "string" || !file.startsWith("/")) {
      throw invalidConfig("logFile", "must be an absolute path");
    }
    out.logFile = file;
  }
  const level = raw["logLevel"];
  if (level !== undefined && level !== null && level !== "") {
    if (typeof level !== "string" || !(LOG_LEVELS as readonly string[]).includes(level)) {
      throw invalidConfig("logLevel", `must be one of ${LOG_LEVELS.join(", ")}`);
    }
    out.logLevel = level as LogLevel;
  }
  return out;
}

/**
 * Validates the decoded stdin of `command`: the version first (error 1),
 * then every hostgate key (error 7 naming the key).
 */
export function parseNetConf(raw: Record<string, unknown>, command: CniCommand): NetConf {
  const cniVersion = configVersion(raw);
  requireVersion(cniVersion, command);
  const name = parseName(raw["name"]);
  const type = typeof raw["type"] === "string" ? raw["type"] : "";
  const bridge = raw["bridge"] ?? DEFAULT_BRIDGE;
  if (typeof bridge !== "string") throw invalidConfig("bridge", "must be a string");
  const why = interfaceNameProblem(bridge);
  if (why) throw invalidConfig("bridge", `${JSON.stringify(bridge)} ${why}`);
  const isDefaultGateway = bool(raw, "isDefaultGateway");
  const isGateway = bool(raw, "isGateway") || isDefaultGateway;
  const hairpinMode = bool(raw, "hairpinMode");
  const mode = raw["mode"] ?? "bridge";
  if (mode !== "routed" && mode !== "bridge") {
    throw invalidConfig("mode", `must be "routed" or "bridge", not ${JSON.stringify(mode)}`);
  }
  const antiSpoofing = raw["antiSpoofing"] === undefined || raw["antiSpoofing"] === null
    ? true
    : bool(raw, "antiSpoofing");
  const promiscMode = bool(raw, "promiscMode");
  if (hairpinMode && promiscMode) {
    throw invalidConfig("promiscMode", "cannot be combined with hairpinMode");
  }
  const runtimeConfig = raw["runtimeConfig"] ?? {};
  if (!isObject(runtimeConfig)) throw invalidConfig("runtimeConfig", "must be an object");
  const args = raw["args"] ?? {};
  if (!isObject(args)) throw invalidConfig("args", "must be an object");
  const argsCni = args["cni"] ?? {};
  if (!isObject(argsCni)) throw invalidConfig("args.cni", "must be an object");
  const requestedIps = [
    ...ipList(runtimeConfig["ips"], "runtimeConfig.ips"),
    ...ipList(argsCni["ips"], "args.cni.ips"),
  ];
  const conf: NetConf = {
    cniVersion,
    name,
    type,
    mode,
    antiSpoofing,
    bridge,
    isGateway,
    isDefaultGateway,
    hairpinMode,
    promiscMode,
    ipam: parseIpam(raw["ipam"]),
    dns: decodeDns(raw["dns"], "dns"),
    requestedIps,
    raw,
    ...parseLog(raw),
  };
  const mtu = parseMtu(raw["mtu"]);
  if (mtu !== undefined) conf.mtu = mtu;
  if (raw["prevResult"] !== undefined && raw["prevResult"] !== null) {
    conf.prevResult = decodeResult(raw["prevResult"]);
  }
  const attachments = parseAttachments(raw);
  if (attachments) conf.validAttachments = attachments;
  return conf;
}
