/**
 * The Kubernetes API as a datastore: Node objects (pod subnets from spec.podCIDRs, addresses from InternalIP, the
 * VTEP from annotations the agent writes), its own paged list/watch that
 * projects each object at ingest, a subnet ConfigMap where the
 * controller-manager allocates none, and IPAllocation objects for pods of an
 * IPPool.
 *
 * This module loads @kubernetes/client-node (~250 ms): import it only
 * dynamically, as `createDatastore` in ../mod.ts does, never from code on the
 * plugin's or the agent's static graph.
 *
 * Owns: the Node annotations and the `hostgate-subnets` ConfigMap it writes.
 * Must not: validate entries for routing (the agent's trust gate does), nor
 * import the other datastores.
 * @module
 */
export {
  type Backoff,
  type Change,
  KubernetesDatastore,
  type KubernetesDatastoreOptions,
  type ListWatchStats,
} from "./datastore.ts";
export {
  describe,
  httpStatus,
  type KubeConfigSource,
  type LoadedKubeConfig,
  loadKubeConfig,
  SERVICE_ACCOUNT_DIR,
} from "./config.ts";
export {
  type Allocations,
  formatAllocation,
  mergeNodes,
  mergeProjections,
  NODE_IPS_ANNOTATION,
  type NodeLike,
  type NodeProjection,
  nodeToInfo,
  parseAllocations,
  projectionToInfo,
  projectNode,
  registrationPatch,
  specPodCidrs,
  VTEP_IP_ANNOTATION,
  VTEP_MAC_ANNOTATION,
} from "./nodes.ts";
export {
  IPALLOCATION_API_VERSION,
  IPALLOCATION_KIND,
  IPALLOCATIONS_PATH,
  podAddressesOf,
} from "./allocations.ts";
