/**
 * The datastores the agent reads nodes from, behind one interface
 * (`Datastore` in types.ts), and `createDatastore`, which picks one by kind.
 * The Kubernetes and etcd implementations are imported lazily, on first use:
 * the Kubernetes one (its list/watch and config loader) and etcd3 (grpc-js,
 * ~130 ms), and an agent only ever needs one of them. Integration tests import
 * etcd/datastore.ts for the class itself; code that gets bundled must go
 * through `createDatastore` or `loadEtcdModule` (etcd/load.ts).
 *
 * Owns: the `Datastore` interface (types.ts), the node-entry codec and the
 * pure subnet allocator the backends share. The backends (file/, etcd/,
 * kubernetes/) import only these shared files, never each other.
 * @module
 */

import type { Datastore } from "./types.ts";
import { FileDatastore, type FileDatastoreOptions } from "./file/mod.ts";
import { type EtcdDatastore, type EtcdDatastoreOptions, loadEtcdModule } from "./etcd/mod.ts";
import type { KubernetesDatastore, KubernetesDatastoreOptions } from "./kubernetes/mod.ts";
import { parseClusterCidrs } from "./subnets.ts";

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
export * from "./file/mod.ts";
export type { KubernetesDatastore, KubernetesDatastoreOptions } from "./kubernetes/mod.ts";
export {
  type EtcdDatastore,
  type EtcdDatastoreOptions,
  type EtcdKeys,
  etcdKeys,
  loadEtcdModule,
} from "./etcd/mod.ts";
export {
  allocateSubnet,
  assignSubnets,
  cidrCovers,
  cidrFamily,
  cidrsOverlap,
  DEFAULT_PREFIX_LENGTH,
  type Family,
  normalizeCidr,
  parseAddress,
  parseClusterCidrs,
  SubnetExhaustedError,
} from "./subnets.ts";
export { FakeDatastore, type FakeDatastoreOptions } from "./fake_datastore.ts";
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
/** Builds a Kubernetes datastore (loads its module and config, YAML parser if needed, on first use). */
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
      const { KubernetesDatastore, loadKubeAccessAsync } = await import("./kubernetes/mod.ts");
      return new KubernetesDatastore({
        ...rest,
        access: rest.access ?? await loadKubeAccessAsync(rest),
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
