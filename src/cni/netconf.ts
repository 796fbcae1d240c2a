/**
 * The network configuration on stdin: decoding, the version, and the keys
 * the spec and its conventions define for every plugin (`name`, `type`,
 * `ipam.type`, `dns`, `prevResult`, `runtimeConfig`, `args`,
 * `cni.dev/valid-attachments`). A plugin's own keys are its business: it
 * extends `SpecConf`. Every invalid value is CNI error 7 naming its key;
 * unknown keys pass through untouched in `raw`.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import {
  type ConfArgs,
  parseConfArgs,
  parseRuntimeConfig,
  type RuntimeConfig,
} from "./capabilities.ts";
import { configFail, isAbsent, isObject, type Json } from "./decode.ts";
import { decodeDns, type Dns } from "./dns.ts";
import { NAME_PATTERN } from "./env.ts";
import { type CniResult, decodeResult } from "./result.ts";
import { type CniCommand, DEFAULT_CONFIG_VERSION, requireVersion } from "./version.ts";

/** The `ipam` section: its `type` picks the backend, the rest is the backend's. */
export interface IpamConf {
  type: string;
  [key: string]: unknown;
}

/** An attachment the runtime still uses (GC's `cni.dev/valid-attachments`). */
export interface Attachment {
  containerId: string;
  ifname: string;
}

/** The spec's part of a validated network configuration. */
export interface SpecConf {
  cniVersion: string;
  name: string;
  /** The plugin type ("" when absent: the runtime already picked the binary). */
  type: string;
  ipam: IpamConf;
  /** The config's own `dns` (empty when absent). */
  dns: Dns;
  /** The capability arguments the runtime sent. */
  runtime: RuntimeConfig;
  /** The `args` convention. */
  args: ConfArgs;
  /** The result of the plugins before this one in a chain. */
  prevResult?: CniResult;
  /** GC: attachments the runtime still uses. */
  validAttachments?: Attachment[];
  /** The whole decoded object, for an IPAM backend and pass-through. */
  raw: Json;
}

/** The two spellings of GC's list (`cni.dev/attachments` was the 1.1.0 draft's). */
const ATTACHMENT_KEYS = ["cni.dev/valid-attachments", "cni.dev/attachments"] as const;

/** Decodes stdin into an object; anything else is error 6. */
export function decodeStdin(stdin: string): Json {
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
export function configVersion(raw: Json): string {
  const v = raw["cniVersion"];
  if (v === undefined || v === "") return DEFAULT_CONFIG_VERSION;
  if (typeof v !== "string") {
    throw new CniError(CniCode.DecodeFailure, "Cannot decode config: cniVersion is not a string");
  }
  return v;
}

function parseName(v: unknown): string {
  if (typeof v !== "string" || v === "") throw configFail("name", "is required");
  if (!NAME_PATTERN.test(v)) {
    throw configFail("name", `${JSON.stringify(v)} has invalid characters`);
  }
  return v;
}

/**
 * Checks the `ipam` section's `type`, a plugin name (a file in CNI_PATH,
 * never a path); the rest of the section belongs to that backend.
 */
export function parseIpamSection(v: unknown): IpamConf {
  if (isAbsent(v)) throw configFail("ipam", "is required");
  if (!isObject(v)) throw configFail("ipam", "must be an object");
  const type = v["type"];
  if (typeof type !== "string" || type === "") {
    throw configFail("ipam.type", "must be a non-empty string");
  }
  if (!NAME_PATTERN.test(type)) {
    throw configFail("ipam.type", `must be a plugin name, got ${JSON.stringify(type)}`);
  }
  return v as IpamConf;
}

/** GC's valid attachments under either spelling; undefined when absent. */
export function parseAttachments(raw: Json): Attachment[] | undefined {
  const key = ATTACHMENT_KEYS.find((k) => raw[k] !== undefined) ?? ATTACHMENT_KEYS[0];
  const v = raw[key];
  if (isAbsent(v)) return undefined;
  if (!Array.isArray(v)) throw configFail(key, "must be an array");
  return v.map((a, n) => {
    if (!isObject(a) || typeof a["containerID"] !== "string" || typeof a["ifname"] !== "string") {
      throw configFail(`${key}[${n}]`, "must be {containerID, ifname} strings");
    }
    return { containerId: a["containerID"], ifname: a["ifname"] };
  });
}

/**
 * Validates the spec's keys of the decoded stdin of `command`: the version
 * first (error 1), then each key (error 7 naming it).
 */
export function parseSpecConf(raw: Json, command: CniCommand): SpecConf {
  const cniVersion = configVersion(raw);
  requireVersion(cniVersion, command);
  const conf: SpecConf = {
    cniVersion,
    name: parseName(raw["name"]),
    type: typeof raw["type"] === "string" ? raw["type"] : "",
    ipam: parseIpamSection(raw["ipam"]),
    dns: decodeDns(raw["dns"], { key: "dns" }) ?? {},
    runtime: parseRuntimeConfig(raw["runtimeConfig"]),
    args: parseConfArgs(raw["args"]),
    raw,
  };
  if (!isAbsent(raw["prevResult"])) conf.prevResult = decodeResult(raw["prevResult"]);
  const attachments = parseAttachments(raw);
  if (attachments) conf.validAttachments = attachments;
  return conf;
}
