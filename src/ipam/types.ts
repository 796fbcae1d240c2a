/**
 * What the plugin asks of an IPAM backend. Three backends implement it: the
 * built-in `hostgate-local` (host-local compatible, on disk), a delegated
 * IPAM plugin executed from CNI_PATH, and the cluster-wide `hostgate-ippool`.
 * @module
 */
import type { Attachment, Dns } from "../cni/mod.ts";
import type { Family } from "../net/mod.ts";

export type { Attachment };

/** Who an allocation belongs to. */
export interface IpamOwner {
  containerId: string;
  ifname: string;
  /** From CNI_ARGS K8S_POD_NAMESPACE / K8S_POD_NAME; enables sticky IPs. */
  podNamespace?: string;
  podName?: string;
}

/** One allocated address. */
export interface IpamAddress {
  family: Family;
  /** Address with the subnet's prefix, "10.22.0.5/24". */
  address: string;
  gateway?: string;
}

/** A route the IPAM config asks for ("routes" in the ipam section). */
export interface IpamRoute {
  dst: string;
  gw?: string;
}

/** DNS settings passed through from the ipam config (the spec's DNS type). */
export type IpamDns = Dns;

/** The IPAM part of an ADD result. */
export interface IpamResult {
  ips: IpamAddress[];
  routes: IpamRoute[];
  dns?: IpamDns;
}

/** An IPAM backend. Every method is idempotent. */
export interface Ipam {
  /** Allocates (or returns the existing allocation of) the owner's addresses. */
  add(owner: IpamOwner, opts?: { requestedIps?: string[] }): Promise<IpamResult>;
  /** Releases the owner's addresses; succeeds when there are none. */
  del(owner: IpamOwner): Promise<void>;
  /** Throws when the owner holds no reservation for `ips`. */
  check(owner: IpamOwner, ips: string[]): Promise<void>;
  /** Releases every allocation whose owner is not in `valid`. */
  gc(valid: Attachment[]): Promise<void>;
  /** Throws when an ADD could not be served now (store unusable, every range full). */
  status(): Promise<void>;
}
