/**
 * Pod subnet allocation, pure: given a cluster CIDR per family and the
 * subnets other nodes already hold, pick the lowest free aligned block. The
 * datastores call it under their own mutual exclusion (a file lock, an etcd
 * transaction), so this module only has to be correct, not concurrent.
 * Parsing is local (ip-cidr costs ~30 µs per CIDR; this is ~1 µs, which
 * matters for 5,000-node snapshots). Works on BigInt intervals so a /8 split into /24s or a v6 /48 split into
 * /64s costs O(n log n) in the number of taken subnets, never a scan of the space.
 * @module
 */

/** Address family of a CIDR. */
export type Family = 4 | 6;

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

function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX16 = /^[0-9a-fA-F]{1,4}$/;

function parseV4(text: string): bigint | undefined {
  if (!V4.test(text)) return undefined;
  return text.split(".").reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (HEX16.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parses an address (no prefix) into family and value; undefined when invalid. */
export function parseAddress(text: string): { family: Family; value: bigint } | undefined {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = text.includes(":") ? parseV6(text) : undefined;
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

function parse(cidr: string): Interval {
  const text = typeof cidr === "string" ? cidr.trim() : "";
  const slash = text.indexOf("/");
  const addr = slash > 0 ? parseAddress(text.slice(0, slash)) : undefined;
  const prefixText = text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (addr === undefined || !(prefix <= bits(addr.family))) {
    throw new Error(`Cannot parse CIDR: ${JSON.stringify(cidr)} is not a CIDR`);
  }
  const hostBits = BigInt(bits(addr.family) - prefix);
  const start = (addr.value >> hostBits) << hostBits;
  return { family: addr.family, prefix, start, end: start + (1n << hostBits) - 1n };
}

function formatV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 0xffn).toString()).join(".");
}

/** RFC 5952 text: lowercase, no leading zeros, longest run (>1) of zero groups as "::". */
function formatV6(n: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

function format(family: Family, start: bigint, prefix: number): string {
  return `${family === 4 ? formatV4(start) : formatV6(start)}/${prefix}`;
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
  const iv = parse(cidr);
  return format(iv.family, iv.start, iv.prefix);
}

/** True when the two CIDRs share at least one address (same family only). */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parse(a);
  const y = parse(b);
  return x.family === y.family && x.start <= y.end && y.start <= x.end;
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parse(outer);
  const i = parse(inner);
  return o.family === i.family && o.start <= i.start && i.end <= o.end;
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
  const width = bits(cluster.family);
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
        cidrContains(clusterCidr, c) && !req.taken.some((t) => safeOverlap(t, c));
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
  try {
    return parse(cidr);
  } catch {
    return undefined;
  }
}

function safeOverlap(a: string, b: string): boolean {
  return tryParse(a) !== undefined && tryParse(b) !== undefined && cidrsOverlap(a, b);
}
