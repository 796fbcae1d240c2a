/**
 * The pure half of the Kubernetes datastore: how a Node object becomes a
 * NodeInfo, how the `hostgate-subnets` ConfigMap's allocations fill in nodes
 * without `spec.podCIDR`, and what register() writes on the Node. No
 * client-node import and no I/O, so it is unit-tested on plain objects and
 * cheap to load. (Which subnet a new node gets is subnets.ts, shared with the
 * other datastores.)
 * @module
 */

import { MAX_ENTRY_BYTES, type NodeInfo, type SelfRegistration } from "../types.ts";
import type { Selector } from "./prune.ts";

/** Node annotation holding the VTEP MAC (written by register()). */
export const VTEP_MAC_ANNOTATION = "hostgate.io/vtep-mac";
/** Node annotation holding the VTEP address. */
export const VTEP_IP_ANNOTATION = "hostgate.io/vtep-ip";
/**
 * Node annotation holding the addresses the agent announced, comma-separated:
 * used only when the Node has no InternalIP (the kubelet owns status.addresses).
 */
export const NODE_IPS_ANNOTATION = "hostgate.io/node-ips";

/** What `projectNode` reads of a Node: everything else is skipped while decoding. */
export const NODE_SELECTOR: Selector = {
  metadata: {
    name: true,
    resourceVersion: true,
    creationTimestamp: true,
    annotations: {
      [VTEP_MAC_ANNOTATION]: true,
      [VTEP_IP_ANNOTATION]: true,
      [NODE_IPS_ANNOTATION]: true,
    },
  },
  spec: { podCIDR: true, podCIDRs: true },
  status: { addresses: true },
};

/** The part of a v1 Node the datastore reads (client-node's V1Node fits it). */
export interface NodeLike {
  metadata?: {
    name?: string;
    annotations?: { [key: string]: string };
    /** RFC 3339 text on the wire; client-node's typed objects carry a Date. */
    creationTimestamp?: string | Date;
  };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
}

/** Node name -> pod subnets, as stored in the allocation ConfigMap. */
export type Allocations = Map<string, readonly string[]>;

/** Pod subnets the controller-manager assigned (spec.podCIDRs, else spec.podCIDR). */
export function specPodCidrs(node: NodeLike): string[] {
  const list = node.spec?.podCIDRs?.filter((c) => c !== "") ?? [];
  if (list.length > 0) return [...list];
  return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}

/**
 * All the agent keeps of a Node: its name, the controller-manager's pod
 * subnets, its InternalIPs, the announced addresses and the VTEP annotations,
 * its creation time, plus the resourceVersion it was read at. Everything else a kubelet writes
 * (managedFields, images, conditions, nodeInfo: ~10 KB a Node) is dropped
 * at ingest.
 */
export interface NodeProjection {
  name: string;
  /** spec.podCIDRs (else spec.podCIDR): set by the controller-manager. */
  specCidrs: readonly string[];
  /** status.addresses of type InternalIP, in order. */
  internalIps: readonly string[];
  /** The hostgate.io/node-ips annotation, split. */
  announcedIps: readonly string[];
  vtepMac?: string;
  vtepIp?: string;
  /**
   * metadata.creationTimestamp in ms (absent when missing or unparseable):
   * the age of the Node's spec.podCIDRs record, for the trust gate's
   * conflicts between two equal records.
   */
  createdAt?: number;
  /** resourceVersion of the object it was projected from (not compared). */
  resourceVersion: string;
}

/** Projects a Node (a decoded object of any size) to what the agent reads. */
export function projectNode(
  node: NodeLike & { metadata?: { resourceVersion?: string } },
): NodeProjection {
  // Annotation values over the size cap are ignored unread (a 12 MB value must not be split).
  const ann: { [key: string]: string } = {};
  for (const [k, v] of Object.entries(node.metadata?.annotations ?? {})) {
    if (typeof v === "string" && v.length <= MAX_ENTRY_BYTES) ann[k] = v;
  }
  const internalIps: string[] = [];
  for (const a of node.status?.addresses ?? []) {
    if (a.type === "InternalIP" && a.address) internalIps.push(a.address);
  }
  const announcedIps = (ann[NODE_IPS_ANNOTATION] ?? "").split(",").map((s) => s.trim())
    .filter((s) => s !== "");
  const created = node.metadata?.creationTimestamp;
  const createdAt = created instanceof Date
    ? created.getTime()
    : typeof created === "string"
    ? Date.parse(created)
    : NaN;
  // Kept for as long as the node exists, 20,000 of them: lists at their exact
  // length (a pushed-to or filtered array keeps ~16 slots, +128 bytes each),
  // one shared empty list, and every usual field in the literal (in-object).
  const name = node.metadata?.name ?? "";
  const specCidrs = exact(specPodCidrs(node));
  const resourceVersion = node.metadata?.resourceVersion ?? "";
  const p: NodeProjection = Number.isFinite(createdAt)
    ? {
      name,
      specCidrs,
      internalIps: exact(internalIps),
      announcedIps: exact(announcedIps),
      resourceVersion,
      createdAt,
    }
    : {
      name,
      specCidrs,
      internalIps: exact(internalIps),
      announcedIps: exact(announcedIps),
      resourceVersion,
    };
  const mac = ann[VTEP_MAC_ANNOTATION];
  const ip = ann[VTEP_IP_ANNOTATION];
  if (mac !== undefined) p.vtepMac = mac;
  if (ip !== undefined) p.vtepIp = ip;
  return p;
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * `list` at its exact length and frozen (NodeInfo hands the same list out,
 * so nothing may change it), or the shared empty list.
 */
function exact(list: readonly string[]): readonly string[] {
  return list.length === 0 ? NONE : Object.freeze(list.slice());
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** True when two projections differ at most in resourceVersion: nothing to do. */
export function sameNodeProjection(a: NodeProjection, b: NodeProjection): boolean {
  return a.name === b.name && sameList(a.specCidrs, b.specCidrs) &&
    sameList(a.internalIps, b.internalIps) && sameList(a.announcedIps, b.announcedIps) &&
    a.vtepMac === b.vtepMac && a.vtepIp === b.vtepIp && a.createdAt === b.createdAt;
}

/** The NodeInfo of a projection; `allocated` is used only when the spec has no podCIDR. */
export function projectionToInfo(p: NodeProjection, allocated?: readonly string[]): NodeInfo {
  const fromSpec = p.specCidrs.length > 0;
  // The projection's frozen lists, not copies: the snapshot of 20,000 nodes holds no
  // second set of arrays.
  const podCidrs = fromSpec ? p.specCidrs : allocated ?? NONE;
  const addresses = p.internalIps.length > 0 ? p.internalIps : p.announcedIps;
  // The ownership record for the trust gate: the spec (controller-manager) outranks the
  // allocation ConfigMap when both name one subnet. The spec's age is the Node's (the
  // controller-manager sets it once, right after creation); a ConfigMap entry has none.
  const ownership: NonNullable<NodeInfo["ownership"]> = fromSpec && p.createdAt !== undefined
    ? { source: "node-spec", subnets: podCidrs, since: p.createdAt }
    : { source: fromSpec ? "node-spec" : "allocation", subnets: podCidrs };
  // Every field in one literal: V8 keeps them inside the object (a field added
  // later costs a separate property array, ~50 bytes a node).
  const info: NodeInfo = podCidrs.length > 0
    ? {
      name: p.name,
      podCidrs,
      addresses,
      subnetSource: fromSpec ? "spec" : "allocation",
      ownership,
    }
    : { name: p.name, podCidrs, addresses, ownership };
  if (p.vtepMac && p.vtepIp) info.vtep = { mac: p.vtepMac, ip: p.vtepIp };
  return info;
}

/** Maps a Node to what the agent needs; `allocated` is used only when the spec has no podCIDR. */
export function nodeToInfo(node: NodeLike, allocated?: readonly string[]): NodeInfo {
  return projectionToInfo(projectNode(node), allocated);
}

/** Parses the ConfigMap data: each value is one or two comma-separated CIDRs. */
export function parseAllocations(data: { [key: string]: string } | undefined): Allocations {
  const out: Allocations = new Map();
  for (const [name, value] of Object.entries(data ?? {})) {
    const cidrs = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (cidrs.length > 0) out.set(name, exact(cidrs));
  }
  return out;
}

/** Renders one node's subnets as a ConfigMap value. */
export function formatAllocation(cidrs: string[]): string {
  return cidrs.join(",");
}

/** The snapshot the agent reads: every node, allocations filled in, sorted by name. */
export function mergeNodes(nodes: readonly NodeLike[], allocations: Allocations): NodeInfo[] {
  return mergeProjections(nodes.filter((n) => n.metadata?.name).map(projectNode), allocations);
}

/** `mergeNodes` over projections (what the datastore holds). */
export function mergeProjections(
  nodes: Iterable<NodeProjection>,
  allocations: Allocations,
): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (const p of nodes) if (p.name) out.push(projectionToInfo(p, allocations.get(p.name)));
  return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** True when two allocation maps hold the same entries. */
export function sameAllocations(a: Allocations, b: Allocations): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || !sameList(v, w)) return false;
  }
  return true;
}

/**
 * The merge patch register() sends so the Node carries what the agent
 * announces; undefined when the Node already says it (no write, no event).
 */
export function registrationPatch(
  node: NodeLike,
  self: SelfRegistration,
): { metadata: { annotations: { [key: string]: string | null } } } | undefined {
  const ann = node.metadata?.annotations ?? {};
  const want: { [key: string]: string | null } = {
    [VTEP_MAC_ANNOTATION]: self.vtep?.mac ?? null,
    [VTEP_IP_ANNOTATION]: self.vtep?.ip ?? null,
    [NODE_IPS_ANNOTATION]: self.addresses.length > 0 ? self.addresses.join(",") : null,
  };
  const changed = Object.entries(want).some(([k, v]) => (ann[k] ?? null) !== v);
  return changed ? { metadata: { annotations: want } } : undefined;
}
