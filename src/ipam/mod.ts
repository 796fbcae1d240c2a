/**
 * IPAM: the `Ipam` interface the plugin calls, the factory that picks a
 * backend from the config, the built-in host-local compatible backend
 * (pure allocator over a Store, disk store in host-local's format), the
 * delegated-plugin backend, and the typed errors STATUS recognises.
 * @module
 */
export type {
  Attachment,
  Ipam,
  IpamAddress,
  IpamDns,
  IpamOwner,
  IpamResult,
  IpamRoute,
} from "./types.ts";
export { createIpam, type CreateIpamOptions } from "./factory.ts";
export {
  DEFAULT_DATA_DIR,
  type DelegatedIpamConfig,
  type IpamConfig,
  IPPOOL_TYPE,
  type IppoolIpamConfig,
  LOCAL_TYPE,
  type LocalIpamConfig,
  parseIpamConfig,
  parseLocalConfig,
} from "./config.ts";
export {
  IpamCheckError,
  IpamExhaustedError,
  IpamPluginNotFoundError,
  IpamRequestError,
  IpamUnavailableError,
} from "./errors.ts";
export { LocalIpam, type LocalIpamOptions } from "./local.ts";
export {
  createIppoolIpam,
  type CreateIppoolOptions,
  IppoolIpam,
  PoolExhaustedError,
} from "./ippool/mod.ts";
export {
  type CniEnvLike,
  DelegatedIpam,
  type DelegatedIpamOptions,
  parseIpamResult,
} from "./delegated.ts";
export { DiskStore, type DiskStoreOptions, LAST_IP_PREFIX, LOCK_FILE } from "./disk_store.ts";
export {
  type Claim,
  formatRecord,
  parseRecord,
  type PodRef,
  type Reservation,
  type Store,
  type StoreKey,
  validKeyPredicate,
} from "./store.ts";
export { allocate, type Allocation, layoutOf } from "./allocator.ts";
export { type AllocRange, describeRangeSet, type RangeSet } from "./range.ts";
