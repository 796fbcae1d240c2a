/**
 * The Kubernetes API as a datastore: Node objects (pod subnets from spec.podCIDRs, addresses from InternalIP, the
 * VTEP from annotations the agent writes), its own paged list/watch that
 * projects each object at ingest, a subnet ConfigMap where the
 * controller-manager allocates none, and IPAllocation objects for pods of an
 * IPPool.
 *
 * Import it only dynamically, as `createDatastore` in ../mod.ts does, never
 * from code on the plugin's or the agent's static graph. It reads kubeconfig
 * and in-cluster credentials itself; @kubernetes/client-node is imported only
 * for a kubeconfig user with an exec or auth-provider plugin, and `yaml` only
 * for a YAML kubeconfig.
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
  type KubeAccess,
  KubeconfigError,
  type KubeConfigSource,
  loadKubeAccess,
  loadKubeAccessAsync,
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
