/**
 * The datastores the agent reads nodes from, behind one interface
 * (`Datastore` in types.ts), and `createDatastore`, which picks one by kind.
 * The Kubernetes and etcd implementations are imported lazily, on first use:
 * @kubernetes/client-node takes ~250 ms to load and etcd3 (grpc-js) ~130 ms,
 * and an agent only ever needs one of them. Import "./etcd.ts" directly for
 * the class itself in tests; code that gets bundled must go through
 * `createDatastore` or `loadEtcdModule` (see etcd_load.ts).
 * @module
 */

import type { Datastore } from "./types.ts";
import { FileDatastore, type FileDatastoreOptions } from "./file/datastore.ts";
import type { EtcdDatastore, EtcdDatastoreOptions } from "./etcd/datastore.ts";
import type { KubernetesDatastore, KubernetesDatastoreOptions } from "./kubernetes/datastore.ts";
import { parseClusterCidrs } from "./subnets.ts";
import { loadEtcdModule } from "./etcd/load.ts";

export type {
  Datastore,
  DatastoreHealth,
  EntryReject,
  NodeInfo,
  Ownership,
  OwnershipSource,
  PodAddress,
  SelfRegistration,
  Vtep,
} from "./types.ts";
export { MAX_ENTRY_BYTES } from "./types.ts";
export {
  deleteNodeEntry,
  denoWatchDir,
  type DirWatch,
  FileDatastore,
  type FileDatastoreOptions,
  type NodeEntryOptions,
  nodeEntryPath,
  nodesDir,
  readNodeEntries,
  type WatchDir,
  writeNodeEntry,
} from "./file/datastore.ts";
export type { EtcdDatastore, EtcdDatastoreOptions } from "./etcd/datastore.ts";
export type { KubernetesDatastore, KubernetesDatastoreOptions } from "./kubernetes/datastore.ts";
export { type EtcdKeys, etcdKeys } from "./etcd/support.ts";
export { loadEtcdModule } from "./etcd/load.ts";
export {
  allocateSubnet,
  assignSubnets,
  cidrContains,
  cidrFamily,
  cidrsOverlap,
  DEFAULT_PREFIX_LENGTH,
  type Family,
  normalizeCidr,
  parseAddress,
  parseClusterCidrs,
  SubnetExhaustedError,
} from "./subnets.ts";
export { encodeNodeEntry, parseNodeEntry, validateNodeName } from "./node_entry.ts";

/** Options of the Kubernetes datastore through `createDatastore`, named like the others. */
export type KubernetesFactoryOptions =
  & Omit<KubernetesDatastoreOptions, "clusterCidrs" | "nodePrefixV4" | "nodePrefixV6">
  & {
    /** Cluster CIDR(s) for nodes without spec.podCIDR; absent disables the fallback allocation. */
    clusterCidr?: string | readonly string[];
    nodePrefixLength?: number;
    nodePrefixLengthV6?: number;
  };

/** What `createDatastore` accepts: the kind plus that implementation's options. */
export type CreateDatastoreOptions =
  | ({ kind: "file" } & FileDatastoreOptions)
  | ({ kind: "etcd" } & EtcdDatastoreOptions)
  | ({ kind: "kubernetes" } & KubernetesFactoryOptions);

/** The datastore kinds, for flag validation and help texts. */
export const DATASTORE_KINDS = ["kubernetes", "etcd", "file"] as const;

/** Builds the datastore of `opts.kind`; nothing is contacted until register/start. */
export function createDatastore(
  opts: { kind: "file" } & FileDatastoreOptions,
): Promise<FileDatastore>;
/** Builds an etcd datastore (loads etcd3 on first use). */
export function createDatastore(
  opts: { kind: "etcd" } & EtcdDatastoreOptions,
): Promise<EtcdDatastore>;
/** Builds a Kubernetes datastore (loads client-node on first use). */
export function createDatastore(
  opts: { kind: "kubernetes" } & KubernetesFactoryOptions,
): Promise<KubernetesDatastore>;
/** Builds the datastore of `opts.kind`. */
export function createDatastore(opts: CreateDatastoreOptions): Promise<Datastore>;
export async function createDatastore(opts: CreateDatastoreOptions): Promise<Datastore> {
  switch (opts.kind) {
    case "file": {
      const { kind: _, ...rest } = opts;
      return new FileDatastore(rest);
    }
    case "etcd": {
      const { kind: _, ...rest } = opts;
      const { EtcdDatastore } = await loadEtcdModule();
      return new EtcdDatastore(rest);
    }
    case "kubernetes": {
      const { kind: _, clusterCidr, nodePrefixLength, nodePrefixLengthV6, ...rest } = opts;
      const { KubernetesDatastore } = await import("./kubernetes/datastore.ts");
      return new KubernetesDatastore({
        ...rest,
        clusterCidrs: clusterCidr === undefined ? undefined : parseClusterCidrs(clusterCidr),
        nodePrefixV4: nodePrefixLength,
        nodePrefixV6: nodePrefixLengthV6,
      });
    }
    default: {
      const kind: never = opts;
      throw new Error(`Cannot create datastore: unknown kind ${JSON.stringify(kind)}`);
    }
  }
}
