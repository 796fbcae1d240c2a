/**
 * The nftables monitor: a NETLINK_NETFILTER socket subscribed to
 * NFNLGRP_NFTABLES, reporting every table, chain and rule added or deleted
 * (by any program: nft, iptables-nft, the agent itself) with the family,
 * table and chain it concerns, so the agent can repair what it owns at once.
 * Set, element and generation messages are not reported.
 * @module
 */
import type { Libc } from "./libc.ts";
import { getString, type NlMsg, parseAttrs } from "./message.ts";
import { pollMonitor } from "./monitor_loop.ts";
import { openSocketIn } from "./socket.ts";

/** include/uapi/linux/netlink.h */
const NETLINK_NETFILTER = 12;
/** nfnetlink.h: the nftables multicast group and subsystem. */
const NFNLGRP_NFTABLES = 7;
const NFNL_SUBSYS_NFTABLES = 10;
/** nfgenmsg: family, version, res_id. */
const NFGENMSG_LEN = 4;

/** nf_tables.h message types (low byte of the netlink type). */
const MSGS: Record<number, Pick<NftEvent, "object" | "op">> = {
  0: { object: "table", op: "add" },
  2: { object: "table", op: "delete" },
  3: { object: "chain", op: "add" },
  5: { object: "chain", op: "delete" },
  6: { object: "rule", op: "add" },
  8: { object: "rule", op: "delete" },
};

/** NFPROTO_* as nft names them. */
const FAMILIES: Record<number, string> = {
  1: "inet",
  2: "ip",
  3: "arp",
  5: "netdev",
  7: "bridge",
  10: "ip6",
};

/** One table, chain or rule change. */
export interface NftEvent {
  object: "table" | "chain" | "rule";
  op: "add" | "delete";
  /** "ip", "ip6", "inet", "bridge", "arp", "netdev" (or "family <n>"). */
  family: string;
  table: string;
  /** The chain (chain and rule events). */
  chain?: string;
}

/** Options of `monitorNftables`. */
export interface NftMonitorOptions {
  /** Netns path to watch; the caller's own when omitted. */
  netns?: string;
  signal: AbortSignal;
  onEvent: (ev: NftEvent) => void;
  /** The kernel dropped events (ENOBUFS): anything may have changed. */
  onOverflow?: () => void;
}

/**
 * Decodes one nftables notification, or undefined for other messages. Table,
 * chain and rule messages all carry the table name as attribute 1; chains
 * their name as 3 (NFTA_CHAIN_NAME), rules their chain as 2 (NFTA_RULE_CHAIN).
 */
export function decodeNftEvent(m: Pick<NlMsg, "type" | "body">): NftEvent | undefined {
  if (m.type >> 8 !== NFNL_SUBSYS_NFTABLES || m.body.length < NFGENMSG_LEN) return undefined;
  const kind = MSGS[m.type & 0xff];
  if (!kind) return undefined;
  const attrs = parseAttrs(m.body, NFGENMSG_LEN);
  const str = (t: number) => {
    const a = attrs.get(t);
    return a ? getString(a) : undefined;
  };
  const family = FAMILIES[m.body[0]!] ?? `family ${m.body[0]}`;
  const table = str(1) ?? "";
  if (kind.object === "table") return { ...kind, family, table };
  const chain = str(kind.object === "chain" ? 3 : 2);
  return chain === undefined ? { ...kind, family, table } : { ...kind, family, table, chain };
}

/**
 * Reports nftables changes until `signal` aborts. The subscription is live
 * when the socket is bound (before the first await), so changes made after
 * the call are seen.
 */
export async function monitorNftables(libc: Libc, opts: NftMonitorOptions): Promise<void> {
  const { sock, nsFd } = openSocketIn(libc, opts.netns ?? "", {
    protocol: NETLINK_NETFILTER,
    groups: 1 << (NFNLGRP_NFTABLES - 1),
    rcvbuf: 1 << 20,
  });
  if (nsFd >= 0) libc.symbols.close(nsFd);
  await pollMonitor(libc, sock, {
    signal: opts.signal,
    onOverflow: opts.onOverflow,
    what: "nftables",
    subject: "netns",
    onMessage: (m) => {
      const ev = decodeNftEvent(m);
      if (ev) opts.onEvent(ev);
    },
  });
}
