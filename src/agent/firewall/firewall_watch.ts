/**
 * What asks for a pass when the agent's rules change by hand, so a deleted
 * chain or jump comes back within one debounce instead of one resync
 * interval. nftables and iptables-nft: nftables notifications, filtered to
 * the tables and chains the agent owns or jumps from (the plugin's hostPort
 * chains and maps share the `inet hostgate` table; their churn is ignored).
 * iptables-legacy sends no notifications: a table fingerprint
 * (IPT_SO_GET_INFO, one syscall per table, no process) is polled instead.
 * @module
 */
import type { Clock } from "../../system/clock.ts";
import type { NftEvent } from "../../system/netlink/nft_monitor.ts";
import type { Logger } from "../observe/mod.ts";
import { backoffMs } from "../reconcile/loop.ts";
import { FILTER_CHAIN, NAT_CHAIN, NFT_TABLE } from "./firewall.ts";
import { VXLAN_CHAIN } from "./vxlan_guard.ts";

/** How often the iptables-legacy fingerprint is read: repair within 1 s with room to spare. */
export const LEGACY_POLL_MS = 500;

/** The agent's chains in its nft table (native backend). */
const NFT_OWNED = new Set([FILTER_CHAIN, NAT_CHAIN, VXLAN_CHAIN]);
/** iptables-nft: the agent's chains and the builtin chains holding its jumps. */
const XT_WATCHED = new Set([
  FILTER_CHAIN,
  NAT_CHAIN,
  VXLAN_CHAIN,
  "FORWARD",
  "POSTROUTING",
  "INPUT",
]);

/** Whether an nftables change can concern what the agent of `backend` owns. */
export function nftEventWantsPass(ev: NftEvent, backend: string): boolean {
  let tables: readonly string[];
  let chains: Set<string>;
  if (backend === "nftables") {
    if (ev.family !== NFT_TABLE.family) return false;
    [tables, chains] = [[NFT_TABLE.name], NFT_OWNED];
  } else if (backend === "iptables-nft") {
    if (ev.family !== "ip" && ev.family !== "ip6") return false;
    [tables, chains] = [["filter", "nat"], XT_WATCHED];
  } else {
    return false;
  }
  if (!tables.includes(ev.table)) return false;
  // A table appearing is someone's write into it (the plugin's, ours); its rules follow as events.
  if (ev.object === "table") return ev.op === "delete";
  return ev.chain !== undefined && chains.has(ev.chain);
}

/** Legacy fingerprints: `read` returns one string for every watched table. */
export interface LegacyTables {
  read(): string;
  close(): void;
}

/** What `watchFirewall` needs; main.ts passes the FFI ones, tests fakes. */
export interface FirewallWatchOptions {
  /** The driver's name: "nftables", "iptables-nft", "iptables-legacy" or "none". */
  backend: string;
  /** Subscribes to nftables changes until the signal aborts (monitorNftables). */
  monitorNft: (o: {
    signal: AbortSignal;
    onEvent: (ev: NftEvent) => void;
    onOverflow: () => void;
  }) => Promise<void>;
  /** Opens the legacy fingerprint reader. */
  openLegacy: () => LegacyTables;
  fire: () => void;
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  retryMinMs: number;
  retryMaxMs: number;
}

/**
 * Runs until `signal` aborts, calling `fire` when the agent's rules may have
 * changed. A failing watch fires (a pass checks the rules anyway) and is
 * restarted after a backoff; the failure is logged once until it recovers.
 */
export async function watchFirewall(o: FirewallWatchOptions): Promise<void> {
  if (o.backend !== "nftables" && o.backend !== "iptables-nft" && o.backend !== "iptables-legacy") {
    return;
  }
  let failures = 0;
  while (!o.signal.aborted) {
    try {
      if (o.backend === "iptables-legacy") await pollLegacy(o, () => (failures = 0));
      else {
        failures = 0;
        await o.monitorNft({
          signal: o.signal,
          onEvent: (ev) => {
            if (nftEventWantsPass(ev, o.backend)) o.fire();
          },
          onOverflow: o.fire,
        });
      }
    } catch (e) {
      if (failures === 0) {
        o.log.warn("Cannot watch the firewall rules; retrying", {
          backend: o.backend,
          error: (e as Error).message,
        });
      }
      failures++;
      o.fire();
    }
    if (!o.signal.aborted) {
      await o.clock.sleep(backoffMs(Math.max(failures, 1), o.retryMinMs, o.retryMaxMs), o.signal);
    }
  }
}

async function pollLegacy(o: FirewallWatchOptions, ok: () => void): Promise<void> {
  const t = o.openLegacy();
  try {
    let last = t.read();
    ok();
    while (!o.signal.aborted) {
      await o.clock.sleep(LEGACY_POLL_MS, o.signal);
      if (o.signal.aborted) break;
      const now = t.read();
      if (now !== last) o.fire();
      last = now;
    }
  } finally {
    t.close();
  }
}
