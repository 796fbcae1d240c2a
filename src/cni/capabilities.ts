/**
 * Capability arguments (`runtimeConfig`, CONVENTIONS.md) and the `args.cni`
 * convention, decoded into typed values: requested `ips`, a `mac`,
 * `portMappings`, `bandwidth` and `dns`. Runtimes disagree on key case —
 * containerd marshals Go structs without JSON tags (`HostPort`,
 * `IngressRate`), podman and CRI-O send `hostPort` — and Go's decoder
 * ignores case, so every key here is matched case-insensitively. A value of
 * the wrong JSON type is CNI error 7 naming the field as it was spelled.
 * @module
 */
import { tryParseIp } from "../net/mod.ts";
import { canonicalMac, requestedAddress } from "./address.ts";
import { configFail, isAbsent, isObject, type Json, optObject } from "./decode.ts";

/** Protocols a port mapping may name (lower case; the input's case is free). */
export const PORT_PROTOCOLS = ["tcp", "udp", "sctp"] as const;
/** One of PORT_PROTOCOLS. */
export type PortProtocol = typeof PORT_PROTOCOLS[number];
/** Highest TCP/UDP/SCTP port. */
export const MAX_PORT = 65535;

/** One `portMappings` entry: traffic to hostIP:hostPort goes to the pod's containerPort. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
  /** Canonical address the mapping is limited to; absent (or "" on the wire) means every one. */
  hostIP?: string;
}

/** One direction's token bucket, in the bandwidth plugin's units. */
export interface BandwidthLimit {
  /** Bits per second. */
  rate: number;
  /** Bits. */
  burst: number;
}

/** The `bandwidth` capability; a direction is present only when both its rate and burst are set. */
export interface Bandwidth {
  ingress?: BandwidthLimit;
  egress?: BandwidthLimit;
}

/** Largest burst in bits: the kernel's TBF holds bytes in 32 bits (the bandwidth plugin's limit). */
export const MAX_BURST_BITS = 8 * (2 ** 32 - 1);

/** The `dns` capability (kubelet's pod DNS config; note its keys differ from a result's `dns`). */
export interface DnsCapability {
  servers: string[];
  searches: string[];
  options: string[];
}

/** The decoded `runtimeConfig`: every capability hostgate knows, empty when not sent. */
export interface RuntimeConfig {
  /** Canonical requested addresses of the `ips` capability (a prefix given is dropped). */
  ips: string[];
  /** Lower-case MAC of the `mac` capability. */
  mac?: string;
  portMappings: PortMapping[];
  bandwidth?: Bandwidth;
  dns?: DnsCapability;
}

/** The `args` convention of a network config (`args.cni.ips`). */
export interface ConfArgs {
  /** Canonical requested addresses. */
  ips: string[];
}

/** A field found under either spelling: its value and the key as the input spelled it. */
interface Found {
  key: string;
  value: unknown;
}

/** `o[name]`, or the first key equal to `name` ignoring case (Go's decoder matches so). */
export function fieldOf(o: Json, name: string): Found | undefined {
  if (Object.hasOwn(o, name)) return { key: name, value: o[name] };
  const lower = name.toLowerCase();
  for (const key of Object.keys(o)) {
    if (key.toLowerCase() === lower) return { key, value: o[key] };
  }
  return undefined;
}

/** A list of requested addresses at `key`; each entry must be an address or address/prefix. */
export function requestedList(v: unknown, key: string): string[] {
  if (isAbsent(v)) return [];
  if (!Array.isArray(v)) throw configFail(key, "must be an array of IP addresses");
  return v.map((s, i) => {
    const ip = typeof s === "string" ? requestedAddress(s) : undefined;
    if (ip === undefined) {
      throw configFail(`${key}[${i}]`, `must be an IP address, got ${JSON.stringify(s)}`);
    }
    return ip;
  });
}

function port(o: Json, name: string, at: string): number {
  const f = fieldOf(o, name);
  const v = f?.value;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_PORT) {
    throw configFail(`${at}.${f?.key ?? name}`, `must be an integer from 1 to ${MAX_PORT}`);
  }
  return v;
}

function portMapping(v: unknown, at: string): PortMapping {
  if (!isObject(v)) throw configFail(at, "must be an object");
  const out: PortMapping = {
    hostPort: port(v, "hostPort", at),
    containerPort: port(v, "containerPort", at),
    protocol: "tcp",
  };
  const proto = fieldOf(v, "protocol");
  if (proto && !isAbsent(proto.value) && proto.value !== "") {
    const p = typeof proto.value === "string" ? proto.value.toLowerCase() : undefined;
    if (!p || !(PORT_PROTOCOLS as readonly string[]).includes(p)) {
      throw configFail(`${at}.${proto.key}`, `must be one of ${PORT_PROTOCOLS.join(", ")}`);
    }
    out.protocol = p as PortProtocol;
  }
  const host = fieldOf(v, "hostIP");
  if (host && !isAbsent(host.value) && host.value !== "") {
    const ip = typeof host.value === "string" ? tryParseIp(host.value) : undefined;
    if (!ip) throw configFail(`${at}.${host.key}`, "must be an IP address");
    out.hostIP = ip.text;
  }
  return out;
}

/** Decodes `portMappings` (either key case); `key` names it in errors. */
export function parsePortMappings(v: unknown, key: string): PortMapping[] {
  if (isAbsent(v)) return [];
  if (!Array.isArray(v)) throw configFail(key, "must be an array");
  return v.map((m, i) => portMapping(m, `${key}[${i}]`));
}

function bits(o: Json, name: string, at: string): number {
  const f = fieldOf(o, name);
  if (!f || isAbsent(f.value)) return 0;
  const v = f.value;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw configFail(`${at}.${f.key}`, "must be a non-negative integer");
  }
  return v;
}

function limit(o: Json, dir: "ingress" | "egress", at: string): BandwidthLimit | undefined {
  const rate = bits(o, `${dir}Rate`, at);
  const burst = bits(o, `${dir}Burst`, at);
  if (rate === 0 && burst === 0) return undefined;
  if (rate === 0) throw configFail(`${at}.${dir}Rate`, `must be set with ${dir}Burst`);
  if (burst === 0) throw configFail(`${at}.${dir}Burst`, `must be set with ${dir}Rate`);
  if (burst > MAX_BURST_BITS) {
    throw configFail(`${at}.${dir}Burst`, `must be at most ${MAX_BURST_BITS} bits (4 GiB)`);
  }
  return { rate, burst };
}

/**
 * Decodes `bandwidth` (ingressRate, ingressBurst, egressRate, egressBurst in
 * either key case): rates in bits per second, bursts in bits, 0 or absent
 * meaning "not shaped". Undefined when neither direction is shaped.
 */
export function parseBandwidth(v: unknown, key: string): Bandwidth | undefined {
  const o = optObject(v, key);
  if (!o) return undefined;
  const out: Bandwidth = {};
  const ingress = limit(o, "ingress", key);
  const egress = limit(o, "egress", key);
  if (ingress) out.ingress = ingress;
  if (egress) out.egress = egress;
  return ingress || egress ? out : undefined;
}

function strings(o: Json, name: string, at: string): string[] {
  const f = fieldOf(o, name);
  if (!f || isAbsent(f.value)) return [];
  if (!Array.isArray(f.value) || !f.value.every((s) => typeof s === "string")) {
    throw configFail(`${at}.${f.key}`, "must be an array of strings");
  }
  return [...f.value] as string[];
}

/** Decodes the `dns` capability ({servers, searches, options}); servers must be addresses. */
export function parseDnsCapability(v: unknown, key: string): DnsCapability | undefined {
  const o = optObject(v, key);
  if (!o) return undefined;
  const servers = strings(o, "servers", key);
  servers.forEach((s, i) => {
    if (!tryParseIp(s)) throw configFail(`${key}.servers[${i}]`, "must be an IP address");
  });
  return { servers, searches: strings(o, "searches", key), options: strings(o, "options", key) };
}

/** Decodes `runtimeConfig` (absent is empty); every wrong value is code 7 naming its field. */
export function parseRuntimeConfig(v: unknown, key = "runtimeConfig"): RuntimeConfig {
  const o = optObject(v, key) ?? {};
  const field = (name: string) => fieldOf(o, name) ?? { key: name, value: undefined };
  const ips = field("ips");
  const out: RuntimeConfig = {
    ips: requestedList(ips.value, `${key}.${ips.key}`),
    portMappings: [],
  };
  const pm = field("portMappings");
  out.portMappings = parsePortMappings(pm.value, `${key}.${pm.key}`);
  const mac = field("mac");
  if (!isAbsent(mac.value) && mac.value !== "") {
    const m = typeof mac.value === "string" ? canonicalMac(mac.value) : undefined;
    if (!m) throw configFail(`${key}.${mac.key}`, "must be a MAC address like 02:00:00:00:00:01");
    out.mac = m;
  }
  const bw = field("bandwidth");
  const bandwidth = parseBandwidth(bw.value, `${key}.${bw.key}`);
  if (bandwidth) out.bandwidth = bandwidth;
  const dns = field("dns");
  const dnsCap = parseDnsCapability(dns.value, `${key}.${dns.key}`);
  if (dnsCap) out.dns = dnsCap;
  return out;
}

/** Decodes a config's `args` (absent is empty): `args.cni.ips`, code 7 naming the field. */
export function parseConfArgs(v: unknown): ConfArgs {
  const args = optObject(v, "args") ?? {};
  const cni = optObject(args["cni"], "args.cni") ?? {};
  return { ips: requestedList(cni["ips"], "args.cni.ips") };
}
