/**
 * Event sources that ask for a pass when something the agent owns changes
 * by hand, so repair takes one debounce instead of one resync interval:
 * directory watches on the conflist and plugin directories (inotify), and
 * the filter deciding which link, address and neighbour notifications matter.
 * @module
 */
import type { LinkEvent } from "../../system/netlink/types.ts";
import type { Clock } from "../../system/clock.ts";
import type { Logger } from "../observe/mod.ts";

/** A running directory watch (Deno.watchFs in production, a fake in tests). */
export interface FileWatch extends AsyncIterable<{ paths: string[] }> {
  close(): void;
}

/** Opens a non-recursive watch on one directory; throws when it does not exist. */
export type OpenWatch = (dir: string) => FileWatch;

/** The real watch. */
export const denoWatch: OpenWatch = (dir) => Deno.watchFs(dir, { recursive: false });

/** Wait between attempts to open a watch on a directory that is not there (yet). */
export const WATCH_RETRY_MS = 1_000;

/**
 * Watches `dir` and calls `fire` when an event names one of `names` (or the
 * directory itself goes); reopens the watch when it ends or cannot open.
 */
export async function watchOwnedFiles(o: {
  open: OpenWatch;
  dir: string;
  names: readonly string[];
  fire: () => void;
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
}): Promise<void> {
  const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
  let failed = false;
  while (!o.signal.aborted) {
    let w: FileWatch | undefined;
    try {
      w = o.open(o.dir);
      if (failed) o.fire(); // the directory is back: check what is in it
      failed = false;
      const stop = () => w?.close();
      o.signal.addEventListener("abort", stop, { once: true });
      try {
        for await (const ev of w) {
          if (ev.paths.some((p) => o.names.includes(base(p)) || p === o.dir)) o.fire();
        }
      } finally {
        o.signal.removeEventListener("abort", stop);
      }
    } catch (e) {
      if (!failed) o.log.debug("Cannot watch a directory; retrying", { dir: o.dir, error: e });
      failed = true;
    }
    try {
      w?.close();
    } catch {
      // closed already
    }
    if (!o.signal.aborted) {
      o.fire(); // the watch ended: the directory may be gone
      await o.clock.sleep(WATCH_RETRY_MS, o.signal);
    }
  }
}

/**
 * Whether a link, address or neighbour notification needs a pass: address,
 * link and forwarding changes always (a node IP, the bridge, the vxlan
 * device, ip_forward); neighbour and FDB changes only on hostgate's vxlan
 * device (ARP churn on other links is none of its business).
 */
export function linkEventWantsPass(ev: LinkEvent, vxlanIndex: number | undefined): boolean {
  if (ev.kind === "neigh") return vxlanIndex !== undefined && ev.ifindex === vxlanIndex;
  return true;
}
