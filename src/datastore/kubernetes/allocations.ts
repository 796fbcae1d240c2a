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

/**
 * The projection of one IPAllocation the datastore keeps: its routed
 * address, or null for one nobody routes (kept so a later change is seen).
 */
export function projectAllocation(obj: unknown): PodAddress | null {
  const a = parseAllocation(obj);
  if (!a || a.node === "") return null;
  return { ip: a.ip, node: a.node, released: a.state === "Released" };
}

/** True when two projections of an IPAllocation are equal. */
export function samePodAddress(a: PodAddress | null, b: PodAddress | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ip === b.ip && a.node === b.node && a.released === b.released;
}

/** Projected allocations as the agent reads them: the routed ones, sorted by address. */
export function sortedPodAddresses(projected: Iterable<PodAddress | null>): PodAddress[] {
  const out: PodAddress[] = [];
  for (const a of projected) if (a) out.push({ ...a });
  return out.sort((x, y) => x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0);
}
