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

/** Node annotation holding the VTEP MAC (written by register()). */
export const VTEP_MAC_ANNOTATION = "hostgate.io/vtep-mac";
/** Node annotation holding the VTEP address. */
export const VTEP_IP_ANNOTATION = "hostgate.io/vtep-ip";
/**
 * Node annotation holding the addresses the agent announced, comma-separated:
 * used only when the Node has no InternalIP (the kubelet owns status.addresses).
 */
export const NODE_IPS_ANNOTATION = "hostgate.io/node-ips";

/** The part of a v1 Node the datastore reads (client-node's V1Node fits it). */
export interface NodeLike {
  metadata?: { name?: string; annotations?: { [key: string]: string } };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
}

/** Node name -> pod subnets, as stored in the allocation ConfigMap. */
export type Allocations = Map<string, string[]>;

/** Pod subnets the controller-manager assigned (spec.podCIDRs, else spec.podCIDR). */
export function specPodCidrs(node: NodeLike): string[] {
  const list = node.spec?.podCIDRs?.filter((c) => c !== "") ?? [];
  if (list.length > 0) return [...list];
  return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}

/**
 * Maps a Node to what the agent needs; `allocated` is used only when the spec
 * has no podCIDR. The ownership record is the spec (set by the
 * controller-manager) or else the allocation ConfigMap: the trust gate
 * settles a conflict between the two in favour of the spec. Annotation
 * values over the size cap are ignored unread.
 */
export function nodeToInfo(node: NodeLike, allocated?: string[]): NodeInfo {
  const ann: { [key: string]: string } = {};
  for (const [k, v] of Object.entries(node.metadata?.annotations ?? {})) {
    if (typeof v === "string" && v.length <= MAX_ENTRY_BYTES) ann[k] = v;
  }
  const internal = (node.status?.addresses ?? [])
    .filter((a) => a.type === "InternalIP" && a.address)
    .map((a) => a.address);
  const announced = (ann[NODE_IPS_ANNOTATION] ?? "").split(",").map((s) => s.trim())
    .filter((s) => s !== "");
  const spec = specPodCidrs(node);
  const podCidrs = spec.length > 0 ? spec : [...(allocated ?? [])];
  const info: NodeInfo = {
    name: node.metadata?.name ?? "",
    podCidrs,
    addresses: internal.length > 0 ? internal : announced,
    ownership: { source: spec.length > 0 ? "node-spec" : "allocation", subnets: [...podCidrs] },
  };
  const mac = ann[VTEP_MAC_ANNOTATION];
  const ip = ann[VTEP_IP_ANNOTATION];
  if (mac && ip) info.vtep = { mac, ip };
  return info;
}

/** Parses the ConfigMap data: each value is one or two comma-separated CIDRs. */
export function parseAllocations(data: { [key: string]: string } | undefined): Allocations {
  const out: Allocations = new Map();
  for (const [name, value] of Object.entries(data ?? {})) {
    const cidrs = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (cidrs.length > 0) out.set(name, cidrs);
  }
  return out;
}

/** Renders one node's subnets as a ConfigMap value. */
export function formatAllocation(cidrs: string[]): string {
  return cidrs.join(",");
}

/** The snapshot the agent reads: every node, allocations filled in, sorted by name. */
export function mergeNodes(nodes: readonly NodeLike[], allocations: Allocations): NodeInfo[] {
  return nodes
    .filter((n) => n.metadata?.name)
    .map((n) => nodeToInfo(n, allocations.get(n.metadata!.name!)))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
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
