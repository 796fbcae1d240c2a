/**
 * The address ranges the trust gate checks every peer against (special
 * ranges, cluster and service CIDRs, this node's segments and protected
 * addresses), parsed once per pass instead of once per peer and check: with
 * 20,000 peers the re-parsing was ~0.5 GB of garbage per pass, most of what
 * a pass allocated. Pure.
 * @module
 */
import { type Cidr, parseCidr, type ParsedIp, tryParseCidr, tryParseIp } from "../../net/mod.ts";
import type { LocalAddress } from "./desired_state.ts";

/** What of a trust policy the range checks read. */
export interface RangeInput {
  clusterCidrs: readonly string[];
  serviceCidrs: readonly string[];
  protectedIps: readonly string[];
  localAddrs: readonly LocalAddress[];
  bridge: string;
}

/** A range with the text it was written as (for reject details). */
export interface NamedRange {
  text: string;
  cidr: Cidr;
}

/** A policy's ranges, parsed. */
export interface PolicyRanges {
  cluster: readonly NamedRange[];
  service: readonly NamedRange[];
  /** Segments this node sits on (non-bridge, non-loopback). */
  segments: readonly Cidr[];
  /** This node's addresses off the bridge, with their link and parsed address. */
  local: readonly { linkName: string; cidr: Cidr; ip: ParsedIp | undefined }[];
  protectedIps: readonly { text: string; ip: ParsedIp }[];
}

const special = (list: readonly (readonly [string, string])[]) =>
  Object.freeze(list.map(([range, why]) => Object.freeze({ cidr: parseCidr(range), why })));

/** Addresses no next hop can be, by family (parsed once, frozen). */
const SPECIAL = Object.freeze({
  4: special([
    ["0.0.0.0/8", "unspecified"],
    ["127.0.0.0/8", "loopback"],
    ["169.254.0.0/16", "link-local"],
    ["224.0.0.0/4", "multicast"],
    ["240.0.0.0/4", "reserved or broadcast"],
  ]),
  6: special([
    ["::/128", "unspecified"],
    ["::1/128", "loopback"],
    ["fe80::/10", "link-local"],
    ["ff00::/8", "multicast"],
    ["::ffff:0:0/96", "IPv4-mapped"],
  ]),
});

/** True when the parsed address lies in the block (cidrContainsIp without parsing). */
export function holds(c: Cidr, a: ParsedIp | undefined): boolean {
  return a !== undefined && a.family === c.family && a.value >= c.networkValue &&
    a.value <= c.lastValue;
}

/** Parses the ranges of `p` (cluster and service CIDRs must be valid, as config ensures). */
export function policyRanges(p: RangeInput): PolicyRanges {
  const named = (list: readonly string[]) => list.map((text) => ({ text, cidr: parseCidr(text) }));
  const local = [];
  const segments = [];
  for (const a of p.localAddrs) {
    if (a.linkName === p.bridge) continue;
    const cidr = tryParseCidr(a.cidr);
    if (!cidr) continue;
    local.push({ linkName: a.linkName, cidr, ip: tryParseIp(cidr.address) });
    if (a.linkName !== "lo") segments.push(cidr);
  }
  const protectedIps = [];
  for (const text of p.protectedIps) {
    const ip = tryParseIp(text);
    if (ip) protectedIps.push({ text, ip });
  }
  return {
    cluster: named(p.clusterCidrs),
    service: named(p.serviceCidrs),
    segments,
    local,
    protectedIps,
  };
}

/** Why `ip` cannot be a next hop, or undefined when it can (see trust.ts's badGatewayWhy). */
export function gatewayWhy(ip: string, r: PolicyRanges): string | undefined {
  const a = tryParseIp(ip);
  if (!a) return "not an address";
  for (const s of SPECIAL[a.family]) if (holds(s.cidr, a)) return s.why;
  for (const c of r.cluster) if (holds(c.cidr, a)) return `inside the pod range ${c.text}`;
  for (const c of r.service) if (holds(c.cidr, a)) return `inside the service range ${c.text}`;
  for (const s of r.segments) {
    const host = s.family === 4 ? 32 - s.prefix : 128 - s.prefix;
    if (host < 2 || !holds(s, a)) continue;
    if (s.family === 4 && ip === s.last) return `the broadcast address of ${s.text}`;
    if (ip === s.network) return `the network address of ${s.text}`;
  }
  return undefined;
}
