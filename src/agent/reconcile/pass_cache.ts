/**
 * A netlink handle for the length of one reconcile pass that answers repeated
 * reads from memory: the uplink detection, the address scan, the bridge and
 * vxlan steps each list the links and addresses, and a link dump (with its
 * statistics) is the most expensive thing a pass does when nothing changed.
 * Any write through the handle drops everything read so far, so a read after
 * a write always sees the kernel again. Results are copied out, so a caller
 * changing what it got cannot change what the next one gets.
 * @module
 */
import type { NetlinkHandle } from "../../system/netlink/types.ts";

/** Methods that only read; every other method counts as a write. */
const READS = new Set<PropertyKey>([
  "getLink",
  "getLinkByIndex",
  "listLinks",
  "listAddrs",
  "listRoutes",
  "listNeighbors",
  "listFdb",
  "getSysctl",
]);

function copyOut<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => copyOut(x)) as T;
  if (v !== null && typeof v === "object") return { ...v };
  return v;
}

/** Wraps `handle`; use the result for one pass only (it never expires on its own). */
export function passCache(handle: NetlinkHandle): NetlinkHandle {
  const cache = new Map<string, unknown>();
  return new Proxy(handle, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      if (READS.has(prop)) {
        return (...args: unknown[]) => {
          const key = `${String(prop)} ${JSON.stringify(args)}`;
          if (!cache.has(key)) cache.set(key, v.apply(target, args));
          return copyOut(cache.get(key));
        };
      }
      return (...args: unknown[]) => {
        cache.clear();
        return v.apply(target, args);
      };
    },
  });
}
