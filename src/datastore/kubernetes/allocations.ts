/**
 * The pure half of watching IPAllocation objects (hostgate.io/v1alpha1,
 * cluster-scoped, one per address handed out by the hostgate-ippool IPAM):
 * which of them the agent routes. Parsing is the IPAM's own
 * (src/ipam/ippool/objects.ts), so the agent and the plugin cannot read one
 * object two ways. No client-node import and no I/O.
 * @module
 */
import { parseAllocation } from "../../ipam/ippool/objects.ts";
import type { PodAddress } from "../types.ts";

/** Collection path of IPAllocation objects (list and watch). */
export const IPALLOCATIONS_PATH = "/apis/hostgate.io/v1alpha1/ipallocations";
/** apiVersion and kind of IPAllocation, for a generic list. */
export const IPALLOCATION_API_VERSION = "hostgate.io/v1alpha1";
export const IPALLOCATION_KIND = "IPAllocation";

/**
 * The addresses of well-formed allocations that name a node, sorted by
 * address. Objects the IPAM would not read (hand-written, a future version)
 * and allocations without a node are left out: there is nowhere to route them.
 */
export function podAddressesOf(objects: readonly unknown[]): PodAddress[] {
  const out: PodAddress[] = [];
  for (const o of objects) {
    const a = parseAllocation(o);
    if (!a || a.node === "") continue;
    out.push({ ip: a.ip, node: a.node, released: a.state === "Released" });
  }
  return out.sort((x, y) => x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0);
}
