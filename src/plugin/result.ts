/**
 * The CNI result in one version-free internal shape, and its conversion to
 * and from every supported wire version. Results differ between versions
 * only in a few fields (0.3.x/0.4.0 carry `ips[].version`; 1.1.0 adds
 * interface `mtu`/`socketPath`/`pciID`), so one shape plus two converters
 * covers them all and prevResult can be merged whatever version it came in.
 * @module
 */
import { familyOf } from "../net/mod.ts";
import { type CniError, invalidConfig } from "../errors.ts";
import { hasIpVersionField } from "./version.ts";

/** One interface of a result. Unknown fields of a prevResult are kept. */
export interface ResultInterface {
  name: string;
  mac?: string;
  /** 1.1.0 and newer only. */
  mtu?: number;
  /** The netns path for container interfaces; absent for host interfaces. */
  sandbox?: string;
  [extra: string]: unknown;
}

/** One address of a result. */
export interface ResultIp {
  /** "10.22.0.5/24". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
  [extra: string]: unknown;
}

/** One route of a result. */
export interface ResultRoute {
  dst: string;
  gw?: string;
  [extra: string]: unknown;
}

/** DNS settings of a result. */
export interface ResultDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in hostgate's internal, version-free shape. */
export interface CniResult {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: ResultDns;
}

/** An empty result, the neutral element of `mergeResults`. */
export function emptyResult(): CniResult {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(why: string, key = "prevResult"): CniError {
  return invalidConfig(key, why);
}

function arrayOf(raw: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = raw[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every(isObject)) {
    throw bad("must be an array of objects", `prevResult.${key}`);
  }
  return v as Record<string, unknown>[];
}

function stringList(v: unknown, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw bad("must be an array of strings", key);
  }
  return [...v] as string[];
}

/** Reads DNS settings (a result's or a netconf's `dns`); `key` names it in errors. */
export function decodeDns(v: unknown, key = "prevResult.dns"): ResultDns {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw bad("must be an object", key);
  const out: ResultDns = {};
  const ns = stringList(v["nameservers"], `${key}.nameservers`);
  if (ns) out.nameservers = ns;
  if (v["domain"] !== undefined) {
    if (typeof v["domain"] !== "string") throw bad("must be a string", `${key}.domain`);
    out.domain = v["domain"];
  }
  const search = stringList(v["search"], `${key}.search`);
  if (search) out.search = search;
  const options = stringList(v["options"], `${key}.options`);
  if (options) out.options = options;
  return out;
}

/**
 * Reads a prevResult of any supported version into the internal shape.
 * Malformed input is error 7 naming prevResult.
 */
export function decodeResult(raw: unknown): CniResult {
  if (!isObject(raw)) throw bad("must be an object");
  const interfaces = arrayOf(raw, "interfaces").map((i, n): ResultInterface => {
    if (typeof i["name"] !== "string") {
      throw bad("must be a string", `prevResult.interfaces[${n}].name`);
    }
    return { ...i, name: i["name"] };
  });
  const ips = arrayOf(raw, "ips").map((ip, n): ResultIp => {
    if (typeof ip["address"] !== "string") {
      throw bad("must be a string", `prevResult.ips[${n}].address`);
    }
    const { version: _version, ...rest } = ip;
    const out: ResultIp = { ...rest, address: ip["address"] };
    const idx = ip["interface"];
    if (idx !== undefined && idx !== null) {
      if (typeof idx !== "number" || !Number.isInteger(idx) || idx < 0) {
        throw bad("must be a non-negative integer", `prevResult.ips[${n}].interface`);
      }
    }
    return out;
  });
  const routes = arrayOf(raw, "routes").map((r, n): ResultRoute => {
    if (typeof r["dst"] !== "string") throw bad("must be a string", `prevResult.routes[${n}].dst`);
    return { ...r, dst: r["dst"] };
  });
  return { interfaces, ips, routes, dns: decodeDns(raw["dns"]) };
}

/** 1.1.0 added these interface fields; older versions must not carry them. */
const V11_INTERFACE_FIELDS = ["mtu", "socketPath", "pciID"];
/** 1.1.0 added these route fields. */
const V11_ROUTE_FIELDS = ["mtu", "advmss", "priority", "table", "scope"];

function without<T extends Record<string, unknown>>(o: T, keys: string[]): T {
  const out = { ...o };
  for (const k of keys) delete out[k];
  return out;
}

/** The wire object of `result` in `cniVersion` (a supported version). */
export function encodeResult(result: CniResult, cniVersion: string): Record<string, unknown> {
  const old = hasIpVersionField(cniVersion);
  const pre11 = cniVersion !== "1.1.0";
  const interfaces = result.interfaces.map((i) => pre11 ? without(i, V11_INTERFACE_FIELDS) : i);
  const ips = result.ips.map((ip) => {
    const { version: _version, ...rest } = ip;
    return old ? { version: String(familyOf(ip.address)), ...rest } : rest;
  });
  const routes = result.routes.map((r) => pre11 ? without(r, V11_ROUTE_FIELDS) : r);
  const out: Record<string, unknown> = { cniVersion };
  if (interfaces.length > 0) out["interfaces"] = interfaces;
  if (ips.length > 0) out["ips"] = ips;
  if (routes.length > 0) out["routes"] = routes;
  out["dns"] = result.dns;
  return out;
}

function hasDns(d: ResultDns): boolean {
  return Boolean(d.nameservers?.length || d.domain || d.search?.length || d.options?.length);
}

/**
 * Appends `ours` to the result of earlier plugins in a chain: interfaces and
 * routes are concatenated, our ips' interface indexes are shifted past the
 * earlier interfaces, and the earlier DNS wins when it says anything.
 */
export function mergeResults(prev: CniResult, ours: CniResult): CniResult {
  const shift = prev.interfaces.length;
  return {
    interfaces: [...prev.interfaces, ...ours.interfaces],
    ips: [
      ...prev.ips,
      ...ours.ips.map((ip) =>
        ip.interface === undefined ? ip : { ...ip, interface: ip.interface + shift }
      ),
    ],
    routes: [...prev.routes, ...ours.routes],
    dns: hasDns(prev.dns) ? prev.dns : ours.dns,
  };
}
