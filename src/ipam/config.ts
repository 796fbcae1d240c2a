/**
 * Parsing of the `ipam` section (pure). host-local's keys and semantics —
 * `ranges` (range sets), the legacy single `subnet`/`rangeStart`/`rangeEnd`/
 * `gateway` (prepended as range set 0), `routes`, `dataDir` — plus hostgate's
 * `reservedRanges` and a `dns` passthrough. Every invalid value is CNI code 7
 * naming the key, so a bad config fails at ADD time with a precise message.
 * @module
 */
import { decodeDns, isObject, parseIpamSection } from "../cni/mod.ts";
import { invalidConfig } from "../errors.ts";
import {
  bigIntToIp,
  type Cidr,
  familyBits,
  type IpRange,
  parseIpRange,
  tryParseCidr,
  tryParseIp,
} from "../net/mod.ts";
import type { IpamDns, IpamRoute } from "./types.ts";
import type { AllocRange, RangeSet } from "./range.ts";

/** The built-in host-local compatible backend. */
export const LOCAL_TYPE = "hostgate-local";
/** The cluster-wide IPPool backend (src/ipam/ippool). */
export const IPPOOL_TYPE = "hostgate-ippool";
/** Default store root: tmpfs, so a reboot leaves no leaked reservation. */
export const DEFAULT_DATA_DIR = "/run/hostgate/ipam";
/** Default `stickyTtl`: a pod's sticky addresses are forgotten a day after it is gone. */
export const DEFAULT_STICKY_TTL_SECONDS = 24 * 60 * 60;

/** Config of `hostgate-local`. */
export interface LocalIpamConfig {
  kind: "local";
  type: typeof LOCAL_TYPE;
  rangeSets: RangeSet[];
  routes: IpamRoute[];
  /** Store root; reservations live in `<dataDir>/<network name>`. */
  dataDir: string;
  reservedRanges: IpRange[];
  /**
   * Seconds a pod's sticky addresses are remembered once no reservation holds
   * them (pruned by GC); 0 prunes them at the first GC after the pod is gone.
   */
  stickyTtl: number;
  dns?: IpamDns;
  /** Accepted for host-local compatibility; not read (hostgate takes DNS from `dns`). */
  resolvConf?: string;
}

/** Config of `hostgate-ippool` (parsed by its own backend: src/ipam/ippool/config.ts). */
export interface IppoolIpamConfig {
  kind: "ippool";
  type: typeof IPPOOL_TYPE;
  raw: Record<string, unknown>;
}

/** Any other type: a plugin binary executed from CNI_PATH. */
export interface DelegatedIpamConfig {
  kind: "delegated";
  type: string;
}

/** The parsed `ipam` section. */
export type IpamConfig = LocalIpamConfig | IppoolIpamConfig | DelegatedIpamConfig;

type Obj = Record<string, unknown>;

function optString(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidConfig(`${path}.${key}`, "must be a string");
  return v;
}

function parseStickyTtl(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_STICKY_TTL_SECONDS;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw invalidConfig(
      "ipam.stickyTtl",
      `must be a whole number of seconds >= 0, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Parses the `ipam` section. Only the type is read for delegated and IPPool
 * types: their config belongs to them.
 */
export function parseIpamConfig(ipam: unknown): IpamConfig {
  const section = parseIpamSection(ipam);
  const type = section.type;
  if (type === IPPOOL_TYPE) return { kind: "ippool", type, raw: section };
  if (type !== LOCAL_TYPE) return { kind: "delegated", type };
  return parseLocalConfig(section);
}

/** Parses the `hostgate-local` section (see the module doc). */
export function parseLocalConfig(ipam: Obj): LocalIpamConfig {
  const sets: RangeSet[] = [];
  if (ipam.subnet !== undefined && ipam.subnet !== null && ipam.subnet !== "") {
    sets.push(parseRangeSet([ipam], "ipam"));
  } else {
    for (const k of ["rangeStart", "rangeEnd", "gateway"]) {
      if (ipam[k] !== undefined) throw invalidConfig(`ipam.${k}`, "needs ipam.subnet");
    }
  }
  if (ipam.ranges !== undefined && ipam.ranges !== null) {
    if (!Array.isArray(ipam.ranges)) {
      throw invalidConfig("ipam.ranges", "must be an array of range sets");
    }
    ipam.ranges.forEach((set, i) => sets.push(parseRangeSet(set, `ipam.ranges[${i}]`)));
  }
  if (sets.length === 0) throw invalidConfig("ipam.ranges", "must name at least one subnet");
  checkNoOverlap(sets);

  const dataDir = optString(ipam, "dataDir", "ipam") ?? DEFAULT_DATA_DIR;
  if (!dataDir.startsWith("/")) throw invalidConfig("ipam.dataDir", "must be an absolute path");

  return {
    kind: "local",
    type: LOCAL_TYPE,
    rangeSets: sets,
    routes: parseRoutes(ipam.routes),
    dataDir: dataDir.length > 1 ? dataDir.replace(/\/+$/, "") : dataDir,
    reservedRanges: parseReserved(ipam.reservedRanges),
    stickyTtl: parseStickyTtl(ipam.stickyTtl),
    dns: parseDns(ipam.dns),
    resolvConf: optString(ipam, "resolvConf", "ipam"),
  };
}

function parseRangeSet(set: unknown, path: string): RangeSet {
  if (!Array.isArray(set) || set.length === 0) {
    throw invalidConfig(path, "must be a non-empty array of ranges");
  }
  const ranges = set.map((r, j) => parseRange(r, path === "ipam" ? path : `${path}[${j}]`));
  const family = ranges[0]!.subnet.family;
  ranges.forEach((r, j) => {
    if (r.subnet.family !== family) {
      throw invalidConfig(`${path}[${j}].subnet`, "mixes address families in one range set");
    }
  });
  for (let a = 0; a < ranges.length; a++) {
    for (let b = a + 1; b < ranges.length; b++) {
      if (overlaps(ranges[a]!, ranges[b]!)) {
        throw invalidConfig(`${path}[${b}]`, `overlaps ${path}[${a}]`);
      }
    }
  }
  return { family, ranges };
}

function overlaps(a: AllocRange, b: AllocRange): boolean {
  return a.subnet.family === b.subnet.family && a.startValue <= b.endValue &&
    b.startValue <= a.endValue;
}

function checkNoOverlap(sets: RangeSet[]): void {
  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      for (const a of sets[i]!.ranges) {
        for (const b of sets[j]!.ranges) {
          if (overlaps(a, b)) {
            throw invalidConfig(
              "ipam.ranges",
              `range set ${j} (${b.subnet.text}) overlaps range set ${i} (${a.subnet.text})`,
            );
          }
        }
      }
    }
  }
}

function addressIn(o: Obj, key: string, path: string, subnet: Cidr): bigint | undefined {
  const text = optString(o, key, path);
  if (text === undefined || text === "") return undefined;
  const p = tryParseIp(text);
  if (!p) {
    throw invalidConfig(`${path}.${key}`, `must be an IP address, got ${JSON.stringify(text)}`);
  }
  if (p.family !== subnet.family || p.value < subnet.networkValue || p.value > subnet.lastValue) {
    throw invalidConfig(`${path}.${key}`, `${p.text} is not in subnet ${subnet.text}`);
  }
  return p.value;
}

function parseRange(r: unknown, path: string): AllocRange {
  if (!isObject(r)) throw invalidConfig(path, "must be an object");
  const subnetText = r.subnet;
  if (typeof subnetText !== "string") {
    throw invalidConfig(`${path}.subnet`, "must be a CIDR string");
  }
  const subnet = tryParseCidr(subnetText);
  if (!subnet) {
    throw invalidConfig(`${path}.subnet`, `must be a CIDR, got ${JSON.stringify(subnetText)}`);
  }
  if (subnet.prefix > familyBits(subnet.family) - 2) {
    throw invalidConfig(`${path}.subnet`, `${subnet.text} is too small to allocate from`);
  }
  const start = addressIn(r, "rangeStart", path, subnet) ?? subnet.networkValue + 1n;
  const end = addressIn(r, "rangeEnd", path, subnet) ?? subnet.lastValue - 1n;
  if (start > end) throw invalidConfig(`${path}.rangeStart`, "is after rangeEnd");
  const gw = addressIn(r, "gateway", path, subnet) ?? subnet.networkValue + 1n;
  if (gw === subnet.networkValue || gw === subnet.lastValue) {
    throw invalidConfig(`${path}.gateway`, "must not be the network or broadcast address");
  }
  const fmt = (v: bigint) => bigIntToIp(subnet.family, v);
  return {
    subnet,
    rangeStart: fmt(start),
    rangeEnd: fmt(end),
    gateway: fmt(gw),
    startValue: start,
    endValue: end,
    gatewayValue: gw,
  };
}

/** Parses `ipam.routes` (shared with the IPPool backend). */
export function parseRoutes(v: unknown): IpamRoute[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidConfig("ipam.routes", "must be an array");
  return v.map((r, i) => {
    const key = `ipam.routes[${i}]`;
    if (!isObject(r)) throw invalidConfig(key, "must be an object");
    const dstText = r.dst;
    const dst = typeof dstText === "string" ? tryParseCidr(dstText) : undefined;
    if (!dst) throw invalidConfig(`${key}.dst`, `must be a CIDR, got ${JSON.stringify(dstText)}`);
    const gwText = optString(r, "gw", key);
    if (gwText === undefined || gwText === "") return { dst: dst.text };
    const gw = tryParseIp(gwText);
    if (!gw) {
      throw invalidConfig(`${key}.gw`, `must be an IP address, got ${JSON.stringify(gwText)}`);
    }
    if (gw.family !== dst.family) throw invalidConfig(`${key}.gw`, "is not of the family of dst");
    return { dst: dst.text, gw: gw.text };
  });
}

function parseReserved(v: unknown): IpRange[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidConfig("ipam.reservedRanges", "must be an array of strings");
  return v.map((s, i) => {
    const key = `ipam.reservedRanges[${i}]`;
    if (typeof s !== "string") throw invalidConfig(key, "must be a string");
    try {
      return parseIpRange(s);
    } catch {
      throw invalidConfig(
        key,
        `must be "first-last", a CIDR or an address, got ${JSON.stringify(s)}`,
      );
    }
  });
}

/** Parses `ipam.dns` (shared with the IPPool backend): nameservers must be addresses. */
export function parseDns(v: unknown): IpamDns | undefined {
  return decodeDns(v, { key: "ipam.dns", addresses: true });
}
