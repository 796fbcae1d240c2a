/**
 * etcd as a datastore: node entries under a lease, subnet claims in
 * transactions, one watch on the prefix.
 *
 * Only the loader and the light key layout are exported here, so that this
 * module keeps etcd3 (and grpc-js, ~130 ms) off every static import graph:
 * `loadEtcdModule()` imports the datastore class on first use (and makes it
 * work inside a bundle). The class's type is re-exported as a type only.
 * Integration tests that need the class itself import ./datastore.ts.
 *
 * Owns: the keys under its prefix. Must not: validate entries for routing
 * (the agent's trust gate does), nor import the other datastores.
 * @module
 */
export { loadEtcdModule } from "./load.ts";
export type { EtcdDatastore, EtcdDatastoreOptions } from "./datastore.ts";
export { type EtcdKeys, etcdKeys } from "./support.ts";
