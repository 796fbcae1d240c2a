/**
 * The IPAllocation object (pure): one cluster-scoped object per allocated
 * address, named by the address, so "two nodes hand out one IP" becomes
 * "two creates of one name", which the API server refuses with 409
 * AlreadyExists. Labels let each call list only what it needs: its
 * container's allocations (DEL, CHECK, a repeated ADD), its pod's (sticky),
 * its node's (GC), or the whole pool (only when random picks keep colliding
 * or the pool is full).
 * @module
 */
import { type Family, tryParseIp } from "../../net/mod.ts";
import type { IpamOwner } from "../types.ts";

/** API group and version of IPPool and IPAllocation. */
export const GROUP = "hostgate.io";
export const VERSION = "v1alpha1";

/** Label keys on IPAllocation objects. */
export const LABEL_POOL = "hostgate.io/pool";
export const LABEL_NODE = "hostgate.io/node";
/** Hash of "namespace/name": pod names do not fit a label value's 63 characters. */
export const LABEL_POD = "hostgate.io/pod";
/** Hash of containerId and ifname; absent once released. */
export const LABEL_CONTAINER = "hostgate.io/container";

/** "Allocated": held by the container in spec; "Released": free, kept for its pod's sticky IP. */
export type AllocationState = "Allocated" | "Released";

/** An IPAllocation as the allocator sees it. */
export interface Allocation {
  name: string;
  resourceVersion: string;
  pool: string;
  ip: string;
  family: Family;
  value: bigint;
  node: string;
  state: AllocationState;
  /** The labels as listed (a release keeps pool, node and pod). */
  labels: Record<string, string>;
  podNamespace?: string;
  podName?: string;
  containerId?: string;
  ifname?: string;
}

/** The owner's label values, computed once per call. */
export interface OwnerKeys {
  container: string;
  pod?: string;
}

/** A valid label value, or undefined. */
function labelValue(v: string): string | undefined {
  return /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(v) ? v : undefined;
}

/** Bytes of SHA-256 kept in a label value: 40 hex digits, under the 63-character limit. */
const KEY_HASH_BYTES = 20;
/** Hex digits of a 128-bit IPv6 address. */
const IPV6_HEX_DIGITS = 32;

async function hashKey(text: string): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  let hex = "";
  for (let i = 0; i < KEY_HASH_BYTES; i++) hex += d[i]!.toString(16).padStart(2, "0");
  return hex;
}

/** The label values of an owner: 40 hex digits of SHA-256 each. */
export async function ownerKeys(owner: IpamOwner): Promise<OwnerKeys> {
  const keys: OwnerKeys = { container: await hashKey(`${owner.containerId}\n${owner.ifname}`) };
  if (owner.podNamespace && owner.podName) {
    keys.pod = await hashKey(`${owner.podNamespace}/${owner.podName}`);
  }
  return keys;
}

/** The node label value: the name when it fits a label value, else its hash. */
export async function nodeKey(node: string): Promise<string> {
  return labelValue(node) ?? await hashKey(`node/${node}`);
}

/**
 * The object name of an address: IPv4 as written ("10.22.0.5"); IPv6 fully
 * expanded with "-" for ":" ("fd00-0000-...-0005"), because a name must
 * start and end with an alphanumeric character and "::" would not.
 */
export function allocationName(ip: string): string {
  const p = tryParseIp(ip);
  if (!p) throw new Error(`Cannot name an allocation: ${JSON.stringify(ip)} is not an address`);
  if (p.family === 4) return p.text;
  const hex = p.value.toString(16).padStart(IPV6_HEX_DIGITS, "0");
  return hex.match(/.{4}/g)!.join("-");
}

/** A label selector from key/value pairs. */
export function selector(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/**
 * Reads an IPAllocation object; undefined for one that is not well formed
 * (written by hand or by a future version), which the allocator then treats
 * as taken but never touches.
 */
export function parseAllocation(obj: unknown): Allocation | undefined {
  if (!isObj(obj) || !isObj(obj.metadata) || !isObj(obj.spec)) return undefined;
  const name = str(obj.metadata, "name");
  const rv = str(obj.metadata, "resourceVersion");
  const s = obj.spec;
  const ip = str(s, "ip");
  const p = ip ? tryParseIp(ip) : undefined;
  const pool = str(s, "pool");
  const state = s.state;
  if (!name || !rv || !p || !pool || (state !== "Allocated" && state !== "Released")) {
    return undefined;
  }
  const a: Allocation = {
    name,
    resourceVersion: rv,
    pool,
    ip: p.text,
    family: p.family,
    value: p.value,
    node: str(s, "node") ?? "",
    state,
    labels: labelsOf(obj),
  };
  for (const k of ["podNamespace", "podName", "containerId", "ifname"] as const) {
    const v = str(s, k);
    if (v !== undefined) a[k] = v;
  }
  return a;
}

/** Inputs of `allocationObject`. */
export interface AllocationInput {
  pool: string;
  ip: string;
  node: string;
  nodeKey: string;
  owner: IpamOwner;
  keys: OwnerKeys;
  /** Set to replace an existing object (update with this resourceVersion precondition). */
  resourceVersion?: string;
}

/** The object held by `owner` on `node`: what ADD creates, or writes over a reclaimed one. */
export function allocationObject(a: AllocationInput): Obj {
  const labels: Record<string, string> = {
    [LABEL_POOL]: a.pool,
    [LABEL_NODE]: a.nodeKey,
    [LABEL_CONTAINER]: a.keys.container,
  };
  if (a.keys.pod) labels[LABEL_POD] = a.keys.pod;
  const spec: Obj = {
    pool: a.pool,
    ip: a.ip,
    node: a.node,
    state: "Allocated",
    containerId: a.owner.containerId,
    ifname: a.owner.ifname,
  };
  if (a.owner.podNamespace && a.owner.podName) {
    spec.podNamespace = a.owner.podNamespace;
    spec.podName = a.owner.podName;
  }
  const metadata: Obj = { name: allocationName(a.ip), labels };
  if (a.resourceVersion) metadata.resourceVersion = a.resourceVersion;
  return { apiVersion: `${GROUP}/${VERSION}`, kind: "IPAllocation", metadata, spec };
}

/**
 * `held` released: no container any more, pod and node kept so the pod's
 * next ADD (on any node) finds its address again. Written with `held`'s
 * resourceVersion, so a concurrent takeover makes it fail instead of undoing it.
 */
export function releasedObject(held: Allocation): Obj {
  const kept: Record<string, string> = {};
  for (const k of [LABEL_POOL, LABEL_NODE, LABEL_POD]) {
    if (held.labels[k] !== undefined) kept[k] = held.labels[k]!;
  }
  const spec: Obj = { pool: held.pool, ip: held.ip, node: held.node, state: "Released" };
  if (held.podNamespace && held.podName) {
    spec.podNamespace = held.podNamespace;
    spec.podName = held.podName;
  }
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "IPAllocation",
    metadata: { name: held.name, resourceVersion: held.resourceVersion, labels: kept },
    spec,
  };
}

/** The labels of an allocation object as listed (kept through a release). */
export function labelsOf(obj: unknown): Record<string, string> {
  if (!isObj(obj) || !isObj(obj.metadata) || !isObj(obj.metadata.labels)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj.metadata.labels)) {
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

/** True when `a` is held by exactly this container and interface. */
export function heldBy(a: Allocation, owner: IpamOwner): boolean {
  return a.state === "Allocated" && a.containerId === owner.containerId &&
    a.ifname === owner.ifname;
}
