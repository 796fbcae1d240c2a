/**
 * `hostgate-ippool`: cluster-wide IPAM from IPPool custom resources, with one
 * IPAllocation object per address handed out. Sticky per pod across nodes,
 * random otherwise, reclaims the addresses of pods that are gone or finished.
 * The pure parts (pool parsing, the allocator's choices, the objects, the
 * kubeconfig format) are exported for the agent, the deploy checks and tests.
 * @module
 */
export { createIppoolIpam, type CreateIppoolOptions } from "./create.ts";
export { IppoolIpam, type IppoolIpamOptions } from "./ipam.ts";
export { PoolExhaustedError } from "./errors.ts";
export { AllocationStore } from "./store.ts";
export { DEFAULT_TIMEOUT_MS, type IppoolConfig, parseIppoolConfig } from "./config.ts";
export {
  describePool,
  type Interval,
  parsePool,
  parseRangeText,
  type Pool,
  poolFamilies,
  type PoolSub,
  subFor,
} from "./pool.ts";
export {
  cryptoRandomBelow,
  FINISHED_PHASES,
  pickFree,
  podReleasesAddress,
  type RandomBelow,
  reclaimOrder,
} from "./allocator.ts";
export {
  type Allocation,
  allocationName,
  type AllocationState,
  GROUP,
  LABEL_CONTAINER,
  LABEL_NODE,
  LABEL_POD,
  LABEL_POOL,
  parseAllocation,
  VERSION,
} from "./objects.ts";
export {
  fetchTransport,
  type HttpTransport,
  KubeApiError,
  type KubeCall,
  KubeClient,
  KubeUnavailableError,
  pathOf,
} from "./client.ts";
export {
  type ApiEndpoint,
  DEFAULT_PLUGIN_KUBECONFIG,
  kubernetesServiceUrl,
  loadKubeconfig,
  parseKubeconfig,
  renderKubeconfig,
} from "./kubeconfig.ts";
