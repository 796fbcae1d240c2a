/**
 * hostgate's network configuration: the spec's keys (decoded by src/cni)
 * plus the plugin's own (bridge, gateway, MTU, hairpin/promiscuous mode,
 * logging). Every invalid value is CNI error 7 naming its key, so an
 * operator sees at once which line of the conflist is wrong.
 * @module
 */
import { agentSocketProblem } from "./remote/socket_path.ts";
import {
  configFail,
  interfaceNameProblem,
  isAbsent,
  type Json,
  parseSpecConf,
  type SpecConf,
} from "../cni/mod.ts";
import type { CniCommand } from "../cni/mod.ts";

/** Log levels, most verbose first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * How a pod is wired: "routed" (a veth per pod, /32 and /128 with a
 * link-local gateway and a host route per pod, no bridge) or "bridge" (every
 * pod's veth on one bridge holding the subnet gateway).
 */
export type PodMode = "routed" | "bridge";

/** A validated hostgate network configuration. */
export interface NetConf extends SpecConf {
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
  /** Log to this file instead of stderr. */
  logFile?: string;
  logLevel?: LogLevel;
}

/** Default bridge name. */
export const DEFAULT_BRIDGE = "hostgate0";
/** Smallest MTU Linux accepts for IPv4 (RFC 791's 68 bytes). */
export const MIN_MTU = 68;
/** Largest MTU a netdevice can carry (an IP packet's 16-bit length). */
export const MAX_MTU = 65535;

/** A boolean key, false when absent. */
function bool(raw: Json, key: string): boolean {
  const v = raw[key];
  if (isAbsent(v)) return false;
  if (typeof v !== "boolean") throw configFail(key, "must be true or false");
  return v;
}

function parseMtu(v: unknown): number | undefined {
  if (isAbsent(v) || v === 0) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < MIN_MTU || v > MAX_MTU) {
    throw configFail("mtu", `must be an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
  return v;
}

function parseBridge(v: unknown): string {
  const bridge = v ?? DEFAULT_BRIDGE;
  if (typeof bridge !== "string") throw configFail("bridge", "must be a string");
  const why = interfaceNameProblem(bridge);
  if (why) throw configFail("bridge", `${JSON.stringify(bridge)} ${why}`);
  return bridge;
}

function parseLog(raw: Json): { logFile?: string; logLevel?: LogLevel } {
  const out: { logFile?: string; logLevel?: LogLevel } = {};
  const file = raw["logFile"];
  if (!isAbsent(file) && file !== "") {
    if (typeof file !== "string" || !file.startsWith("/")) {
      throw configFail("logFile", "must be an absolute path");
    }
    out.logFile = file;
  }
  const level = raw["logLevel"];
  if (!isAbsent(level) && level !== "") {
    if (typeof level !== "string" || !(LOG_LEVELS as readonly string[]).includes(level)) {
      throw configFail("logLevel", `must be one of ${LOG_LEVELS.join(", ")}`);
    }
    out.logLevel = level as LogLevel;
  }
  return out;
}

/**
 * Validates the decoded stdin of `command`: the spec's keys first (the
 * version is error 1), then hostgate's (error 7 naming the key).
 */
export function parseNetConf(raw: Json, command: CniCommand): NetConf {
  const spec = parseSpecConf(raw, command);
  const isDefaultGateway = bool(raw, "isDefaultGateway");
  const hairpinMode = bool(raw, "hairpinMode");
  const promiscMode = bool(raw, "promiscMode");
  if (hairpinMode && promiscMode) {
    throw configFail("promiscMode", "cannot be combined with hairpinMode");
  }
  const mode = isAbsent(raw["mode"]) ? "bridge" : raw["mode"];
  if (mode !== "routed" && mode !== "bridge") {
    throw configFail("mode", `must be "routed" or "bridge", not ${JSON.stringify(mode)}`);
  }
  const conf: NetConf = {
    ...spec,
    mode,
    antiSpoofing: isAbsent(raw["antiSpoofing"]) ? true : bool(raw, "antiSpoofing"),
    bridge: parseBridge(raw["bridge"]),
    isGateway: bool(raw, "isGateway") || isDefaultGateway,
    isDefaultGateway,
    hairpinMode,
    promiscMode,
    ...parseLog(raw),
  };
  const mtu = parseMtu(raw["mtu"]);
  if (mtu !== undefined) conf.mtu = mtu;
  const socket = raw["agentSocket"];
  if (!isAbsent(socket) && socket !== "") {
    const why = agentSocketProblem(socket);
    if (why) throw configFail("agentSocket", why);
  }
  return conf;
}
