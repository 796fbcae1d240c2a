/**
 * The CNI result in one version-free internal shape, and its conversion to
 * and from every wire version. Results differ between versions only in a
 * few fields (0.3.x/0.4.0 carry `ips[].version`; 1.1.0 adds interface
 * `mtu`/`socketPath`/`pciID` and route `mtu`/`advmss`/`priority`/`table`/
 * `scope`; 0.1.0/0.2.0 had `ip4`/`ip6` instead of `ips`), so one shape plus
 * two converters covers them all: prevResult is merged whatever version it
 * came in, and a delegated IPAM plugin's output is read the same way.
 * @module
 */
import { familyOf } from "../net/mod.ts";
import { configFail, type Fail, isAbsent, isObject, type Json } from "./decode.ts";
import { decodeDns, type Dns, hasDns } from "./dns.ts";
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

/** A result in hostgate's internal, version-free shape. */
export interface CniResult {
  interfaces: ResultInterface[];
  ips: ResultIp[];
  routes: ResultRoute[];
  dns: Dns;
}

/** An empty result, the neutral element of `mergeResults`. */
export function emptyResult(): CniResult {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

/** Options of `decodeResult`. */
export interface DecodeResultOptions {
  /** Where the result sits, for errors; default "prevResult". */
  key?: string;
  /** How a malformed result fails; default CNI code 7 naming the key. */
  fail?: Fail;
}

interface Ctx {
  key: string;
  fail: Fail;
}

function arrayOf(raw: Json, field: string, c: Ctx): Json[] {
  const v = raw[field];
  if (isAbsent(v)) return [];
  if (!Array.isArray(v) || !v.every(isObject)) {
    throw c.fail(`${c.key}.${field}`, "must be an array of objects");
  }
  return v as Json[];
}

function decodeIp(ip: Json, at: string, c: Ctx): ResultIp {
  if (typeof ip["address"] !== "string") throw c.fail(`${at}.address`, "must be a string");
  const idx = ip["interface"];
  if (!isAbsent(idx) && (typeof idx !== "number" || !Number.isInteger(idx) || idx < 0)) {
    throw c.fail(`${at}.interface`, "must be a non-negative integer");
  }
  const { version: _version, ...rest } = ip;
  return { ...rest, address: ip["address"] };
}

function decodeRoute(r: Json, at: string, c: Ctx): ResultRoute {
  if (typeof r["dst"] !== "string") throw c.fail(`${at}.dst`, "must be a string");
  return { ...r, dst: r["dst"] };
}

/** The legacy (0.1.0, 0.2.0) `ip4`/`ip6` objects: `{ip, gateway, routes}` each. */
function decodeLegacy(raw: Json, c: Ctx): { ips: ResultIp[]; routes: ResultRoute[] } {
  const ips: ResultIp[] = [];
  const routes: ResultRoute[] = [];
  for (const field of ["ip4", "ip6"]) {
    const v = raw[field];
    if (isAbsent(v)) continue;
    const at = `${c.key}.${field}`;
    if (!isObject(v)) throw c.fail(at, "must be an object");
    if (typeof v["ip"] !== "string") throw c.fail(`${at}.ip`, "must be a string");
    const ip: ResultIp = { address: v["ip"] };
    if (!isAbsent(v["gateway"])) {
      if (typeof v["gateway"] !== "string") throw c.fail(`${at}.gateway`, "must be a string");
      ip.gateway = v["gateway"];
    }
    ips.push(ip);
    routes.push(
      ...arrayOf(v, "routes", { ...c, key: at }).map((r, n) =>
        decodeRoute(r, `${at}.routes[${n}]`, c)
      ),
    );
  }
  return { ips, routes };
}

/**
 * Reads a result of any version (0.1.0 to 1.1.0) into the internal shape:
 * `ips[].version` is dropped, legacy `ip4`/`ip6` become `ips` and routes.
 * Only the structure is checked (strings where the spec has strings);
 * unknown fields are kept. Malformed input fails naming the field.
 */
export function decodeResult(raw: unknown, opts: DecodeResultOptions = {}): CniResult {
  const c: Ctx = { key: opts.key ?? "prevResult", fail: opts.fail ?? configFail };
  if (!isObject(raw)) throw c.fail(c.key, "must be an object");
  const interfaces = arrayOf(raw, "interfaces", c).map((i, n): ResultInterface => {
    if (typeof i["name"] !== "string") {
      throw c.fail(`${c.key}.interfaces[${n}].name`, "must be a string");
    }
    return { ...i, name: i["name"] };
  });
  const dns = decodeDns(raw["dns"], { key: `${c.key}.dns`, fail: c.fail }) ?? {};
  const routes = arrayOf(raw, "routes", c).map((r, n) =>
    decodeRoute(r, `${c.key}.routes[${n}]`, c)
  );
  if (isAbsent(raw["ips"]) && (!isAbsent(raw["ip4"]) || !isAbsent(raw["ip6"]))) {
    const legacy = decodeLegacy(raw, c);
    return { interfaces, ips: legacy.ips, routes: [...routes, ...legacy.routes], dns };
  }
  const ips = arrayOf(raw, "ips", c).map((ip, n) => decodeIp(ip, `${c.key}.ips[${n}]`, c));
  return { interfaces, ips, routes, dns };
}

/** 1.1.0 added these interface fields; older versions must not carry them. */
const V11_INTERFACE_FIELDS = ["mtu", "socketPath", "pciID"];
/** 1.1.0 added these route fields. */
const V11_ROUTE_FIELDS = ["mtu", "advmss", "priority", "table", "scope"];
/** The version that introduced the fields above. */
const V11 = "1.1.0";

function without<T extends Json>(o: T, keys: readonly string[]): T {
  const out = { ...o };
  for (const k of keys) delete out[k];
  return out;
}

/** The wire object of `result` in `cniVersion` (0.3.0 or newer). */
export function encodeResult(result: CniResult, cniVersion: string): Json {
  const old = hasIpVersionField(cniVersion);
  const pre11 = cniVersion !== V11;
  const interfaces = result.interfaces.map((i) => pre11 ? without(i, V11_INTERFACE_FIELDS) : i);
  const ips = result.ips.map((ip) => {
    const { version: _version, ...rest } = ip;
    return old ? { version: String(familyOf(ip.address)), ...rest } : rest;
  });
  const routes = result.routes.map((r) => pre11 ? without(r, V11_ROUTE_FIELDS) : r);
  const out: Json = { cniVersion };
  if (interfaces.length > 0) out["interfaces"] = interfaces;
  if (ips.length > 0) out["ips"] = ips;
  if (routes.length > 0) out["routes"] = routes;
  out["dns"] = result.dns;
  return out;
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
