/**
 * Pod subnet allocation, pure: given a cluster CIDR per family and the
 * subnets other nodes already hold, pick the lowest free aligned block. The
 * datastores call it under their own mutual exclusion (a file lock, an etcd
 * transaction), so this module only has to be correct, not concurrent.
 * Parsing is src/net's (its fast path and memo keep 5,000-node snapshots
 * cheap). Works on BigInt intervals so a /8 split into /24s or a v6 /48 split into
 * /64s costs O(n log n) in the number of taken subnets, never a scan of the space.
 * @module
 */

import {
  bigIntToIp,
  cidrCovers as netCidrCovers,
  cidrsOverlap as netCidrsOverlap,
  type Family,
  familyBits,
  parseCidr,
  tryParseCidr,
  tryParseIp,
} from "../net/mod.ts";

export type { Family };

/** Default pod subnet size per family (as kube-controller-manager). */
export const DEFAULT_PREFIX_LENGTH: Readonly<Record<Family, number>> = { 4: 24, 6: 64 };

/** Thrown when a cluster CIDR has no free subnet of the requested size left. */
export class SubnetExhaustedError extends Error {
  /** The cluster CIDR that is full. */
  readonly clusterCidr: string;
  constructor(clusterCidr: string, prefixLength: number) {
    super(`Cannot allocate pod subnet: cluster CIDR ${clusterCidr} has no free /${prefixLength}`);
    this.name = "SubnetExhaustedError";
    this.clusterCidr = clusterCidr;
  }
}

/** A CIDR as a closed BigInt interval. */
interface Interval {
  family: Family;
  prefix: number;
  start: bigint;
  end: bigint;
}

/** Parses an address (no prefix) into family and value; undefined when invalid. */
export function parseAddress(text: string): { family: Family; value: bigint } | undefined {
  const p = tryParseIp(text);
  return p && { family: p.family, value: p.value };
}

/** Datastore values may carry stray blanks ("10.0.0.0/8 "); the block is what counts. */
function trimmed(cidr: string): string {
  return typeof cidr === "string" ? cidr.trim() : cidr;
}

function parse(cidr: string): Interval {
  const c = parseCidr(trimmed(cidr));
  return { family: c.family, prefix: c.prefix, start: c.networkValue, end: c.lastValue };
}

function format(family: Family, start: bigint, prefix: number): string {
  return `${bigIntToIp(family, start)}/${prefix}`;
}

/** Family of a CIDR; throws when it is not a CIDR. */
export function cidrFamily(cidr: string): Family {
  return parse(cidr).family;
}

/**
 * Canonical text of a CIDR's network ("10.244.1.7/24" -> "10.244.1.0/24",
 * "fd00:0:0::/64" -> "fd00::/64"), so keys and comparisons never differ by spelling.
 */
export function normalizeCidr(cidr: string): string {
  return parseCidr(trimmed(cidr)).text;
}

/** True when the two CIDRs share at least one address (same family only). */
export function cidrsOverlap(a: string, b: string): boolean {
  return netCidrsOverlap(trimmed(a), trimmed(b));
}

/** True when the block `inner` lies entirely inside `outer` (blanks around either ignored). */
export function cidrCovers(outer: string, inner: string): boolean {
  return netCidrCovers(trimmed(outer), trimmed(inner));
}

/**
 * Splits the `clusterCidr` option ("10.244.0.0/16", "10.244.0.0/16,fd00:10:244::/56"
 * or an array) into one normalized CIDR per family, v4 first. At most one per family.
 */
export function parseClusterCidrs(input: string | readonly string[]): string[] {
  const parts = (typeof input === "string" ? input.split(",") : [...input])
    .map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new Error("Cannot parse cluster CIDR: it is empty");
  const byFamily = new Map<Family, string>();
  for (const p of parts) {
    const iv = parse(p);
    if (byFamily.has(iv.family)) {
      throw new Error(`Cannot parse cluster CIDR: more than one IPv${iv.family} CIDR in ${parts}`);
    }
    byFamily.set(iv.family, format(iv.family, iv.start, iv.prefix));
  }
  return [4 as const, 6 as const].flatMap((f) => byFamily.has(f) ? [byFamily.get(f)!] : []);
}

/** Input of `allocateSubnet`. */
export interface SubnetRequest {
  /** One cluster CIDR. */
  clusterCidr: string;
  /** Prefix length of the node subnet; defaults per family (/24, /64). */
  prefixLength?: number;
  /** Subnets held by other nodes (any family; other families are ignored). */
  taken: readonly string[];
}

function alignUp(n: bigint, size: bigint, base: bigint): bigint {
  const off = (n - base) % size;
  return off === 0n ? n : n + (size - off);
}

/**
 * The lowest block of `prefixLength` inside `clusterCidr` that overlaps none
 * of `taken`, or undefined when the CIDR is full. Unparsable entries of
 * `taken` are ignored (a foreign value in a datastore must not block allocation).
 */
export function allocateSubnet(req: SubnetRequest): string | undefined {
  const cluster = parse(req.clusterCidr);
  const prefix = req.prefixLength ?? DEFAULT_PREFIX_LENGTH[cluster.family];
  const width = familyBits(cluster.family);
  if (!Number.isInteger(prefix) || prefix < cluster.prefix || prefix > width) {
    throw new Error(
      `Cannot allocate pod subnet: prefix length /${prefix} is outside /${cluster.prefix}../${width}`,
    );
  }
  const size = 1n << BigInt(width - prefix);
  const taken = req.taken.map(tryParse)
    .filter((t): t is Interval => t !== undefined)
    .filter((t) => t.family === cluster.family && t.end >= cluster.start && t.start <= cluster.end)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let cand = cluster.start;
  for (const t of taken) {
    if (cand + size - 1n < t.start) break;
    if (t.end >= cand) cand = alignUp(t.end + 1n, size, cluster.start);
  }
  if (cand + size - 1n > cluster.end) return undefined;
  return format(cluster.family, cand, prefix);
}

/** Input of `assignSubnets`. */
export interface AssignRequest {
  /** Normalized cluster CIDRs, one per family (see `parseClusterCidrs`). */
  clusterCidrs: readonly string[];
  /** Node prefix length per family; defaults /24 and /64. */
  prefixLengths?: Partial<Record<Family, number>>;
  /** Subnets the node holds now; kept when still valid and not held by another node. */
  current?: readonly string[];
  /** Subnets held by other nodes. */
  taken: readonly string[];
}

/**
 * One pod subnet per cluster family for a node: keeps each current subnet
 * that is still inside the cluster CIDR, of the right size and not overlapping
 * another node's; allocates the rest. Throws `SubnetExhaustedError` when full.
 */
export function assignSubnets(req: AssignRequest): string[] {
  const out: string[] = [];
  for (const clusterCidr of req.clusterCidrs) {
    const cluster = parse(clusterCidr);
    const prefix = req.prefixLengths?.[cluster.family] ?? DEFAULT_PREFIX_LENGTH[cluster.family];
    const kept = (req.current ?? []).find((c) => {
      const iv = tryParse(c);
      return iv !== undefined && iv.family === cluster.family && iv.prefix === prefix &&
        cidrCovers(clusterCidr, c) && !req.taken.some((t) => safeOverlap(t, c));
    });
    const subnet = kept !== undefined
      ? normalizeCidr(kept)
      : allocateSubnet({ clusterCidr, prefixLength: prefix, taken: req.taken });
    if (subnet === undefined) throw new SubnetExhaustedError(clusterCidr, prefix);
    out.push(subnet);
  }
  return out;
}

function tryParse(cidr: string): Interval | undefined {
  const c = tryParseCidr(trimmed(cidr));
  return c && { family: c.family, prefix: c.prefix, start: c.networkValue, end: c.lastValue };
}

function safeOverlap(a: string, b: string): boolean {
  return tryParse(a) !== undefined && tryParse(b) !== undefined && cidrsOverlap(a, b);
}
