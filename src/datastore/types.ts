/**
 * The datastore interface the agent reads nodes from. Three implementations:
 * kubernetes/ (Node objects; podCIDR fallback allocation via a ConfigMap),
 * etcd/ (registration with a lease, subnet allocation in a transaction),
 * file/ (a shared directory with a lock, for one machine and the demo).
 * @module
 */

import type { PolicySource } from "../agent/policy/source.ts";

/** VXLAN tunnel endpoint a node publishes for the overlay. */
export interface Vtep {
  /** MAC of the node's vxlan device. */
  mac: string;
  /** Address of the vxlan device (inside the node's pod subnet, usually .0). */
  ip: string;
}

/** What the agent knows of one node. */
export interface NodeInfo {
  name: string;
  /**
   * Pod subnets of the node, one per family at most ("10.244.1.0/24", "fd00:10:244:1::/64").
   * Read-only: a datastore may hand out the (frozen) lists it keeps, one per node, not copies.
   */
  podCidrs: readonly string[];
  /** Node addresses (InternalIP), v4 and/or v6. */
  addresses: readonly string[];
  /** Present when the node runs a vxlan device. */
  vtep?: Vtep;
  /**
   * Where `podCidrs` came from, when the datastore can tell (for the trust
   * gate): "spec" = Node.spec.podCIDRs, set by the controller-manager;
   * "allocation" = the datastore's own allocation (the Kubernetes
   * datastore's hostgate-subnets ConfigMap). Absent without subnets or when
   * the datastore does not know.
   */
  subnetSource?: "spec" | "allocation";
  /**
   * What the datastore's ownership record says this node holds, apart from
   * what its entry claims: the agent's trust gate routes only subnets found
   * here. Absent means no record (nothing is routed for this node).
   */
  ownership?: Ownership;
}

/** Where an ownership record comes from; decides conflicts (see the trust gate). */
export type OwnershipSource = "node-spec" | "claim" | "allocation";

/** The subnets an ownership record gives one node. */
export interface Ownership {
  source: OwnershipSource;
  /** Canonical CIDRs. */
  subnets: readonly string[];
  /**
   * When the record was made, where the store can say so honestly (the
   * Kubernetes Node's creationTimestamp, in ms): the older of two equal
   * records keeps a subnet no node routes yet. Comparable only within one
   * store; absent when unknown (the allocation ConfigMap has no per-entry
   * time, and etcd and file claims are one key per subnet, so never equal).
   */
  since?: number;
}

/** Largest stored value a datastore parses; bigger ones are refused unread. */
export const MAX_ENTRY_BYTES = 64 * 1024;

/** An entry a datastore refused before it became a NodeInfo (too big, not parseable). */
export interface EntryReject {
  node: string;
  /** "entry" (the whole value), or the field that failed. */
  field: string;
  value: string;
  reason: "oversize" | "garbage";
  detail: string;
}

/**
 * A pod address handed out by a cluster-wide IPAM (an IPAllocation of the
 * hostgate-ippool IPAM), in the pure form the agent routes: such an address
 * can live on any node, so no node's pod subnet covers it.
 */
export interface PodAddress {
  /** Canonical address, no prefix ("10.244.100.7"). */
  ip: string;
  /** Name of the node the pod runs on. */
  node: string;
  /** True once DEL released it (kept only for the pod's sticky IP): not routed. */
  released: boolean;
}

/** What this node announces about itself. */
export interface SelfRegistration {
  name: string;
  addresses: string[];
  vtep?: Vtep;
}

/** Connection state, for readiness and metrics. */
export interface DatastoreHealth {
  connected: boolean;
  /** Last error text when not connected. */
  lastError?: string;
  /** Count of change events seen since start. */
  events: number;
  /**
   * False while the node list may be incomplete (a fault since the last full
   * read): the agent then adds and updates but never deletes.
   */
  authoritative?: boolean;
  /** Monotonic ms of the last sign of life from the store (a read, an event, a keepalive). */
  lastContactMs?: number;
}

/**
 * A source of node information. The agent is level-triggered: `onChange`
 * carries no payload, the agent re-reads `nodes()` and reconciles.
 */
export interface Datastore {
  /** Short name for logs and metrics: "kubernetes", "etcd", "file". */
  readonly kind: string;
  /**
   * Announces this node (creating or refreshing its entry) and makes sure it
   * has pod subnets, allocating them from the cluster CIDR when needed.
   * Returns this node as stored.
   */
  register(self: SelfRegistration): Promise<NodeInfo>;
  /** Starts watching; calls `onChange` after every change (callers debounce). */
  start(onChange: () => void): Promise<void>;
  /** The current snapshot of every node, this one included. */
  nodes(): NodeInfo[];
  health(): DatastoreHealth;
  /**
   * Addresses of a cluster-wide IPAM, when this datastore watches them (the
   * Kubernetes one with `watchAllocations`); absent or empty otherwise.
   * Changes to them trigger `onChange` like node changes.
   */
  podAddresses?(): PodAddress[];
  /**
   * NetworkPolicy inputs (policies, pods, namespaces), when this datastore was
   * asked to watch them (`watchPolicy`); the agent starts and reads it.
   * Closed by `close()`.
   */
  readonly policy?: PolicySource;
  /** Entries refused before parsing since the last full read (oversize, garbage). */
  entryRejects?(): EntryReject[];
  /** Stops watches and timers; does not remove this node's entry. */
  close(): Promise<void>;
}
