/**
 * Anti-spoofing per pod, as a fixed ruleset plus per-pod set elements. Pure.
 *
 * Table ownership: the plugin owns `hostgate-guard` in the families below
 * and nothing else there. The tables are the same on every node and never
 * change per pod: a pod is guarded by elements (its host veth, MAC and
 * addresses) written in-process over nfnetlink (elements.ts), so ADD and DEL
 * spawn no `nft` and (un)register no base chain. The definition is installed
 * with `nft -f -` only when an element write finds a table or set missing;
 * it is idempotent (add table/set/chain, flush chain, add rule, in one
 * transaction; sets are never flushed), so racing first ADDs are safe.
 *
 * - routed mode: `inet hostgate-guard` (IPv4/IPv6 at prerouting, before
 *   routing) and `arp hostgate-guard` (ARP reaches the host's arp input).
 * - bridge mode: `bridge hostgate-guard` (every frame a port sends, at the
 *   bridge's prerouting, before it is forwarded).
 *
 * The agent's `inet hostgate` (FORWARD/MASQUERADE, hostPort, bandwidth) and
 * `inet hostgate-policy` (NetworkPolicy, which keys on pod source addresses
 * and relies on this guard) are other tables; nothing here touches them.
 *
 * What a guarded pod may send (everything else is dropped): frames from its
 * own MAC only; IPv4 from its own addresses; ARP whose sender MAC and IP are
 * its own (0.0.0.0 for probes); IPv6 from its own addresses, a link-local or
 * :: (never routed); no router advertisement or redirect; a neighbour
 * advertisement only for its own addresses or its own EUI-64 link-local.
 * @module
 */
import { canonicalIp } from "../ip.ts";
import type { NftFamily } from "../../system/nftables/mod.ts";
import type { KeyField } from "../../system/nftables/mod.ts";

/** Name of every guard table. */
export const GUARD_NAME = "hostgate-guard";

/** Priority of the guard's base chains (before anything else on that hook). */
export const GUARD_PRIORITY = -500;

/** The wiring modes the guard knows. */
export type GuardMode = "routed" | "bridge";

/** The sets of the guard, with their key fields. */
export const GUARD_SETS = {
  guarded: ["ifname"],
  macs: ["ifname", "ether_addr"],
  addr4: ["ifname", "ipv4_addr"],
  addr6: ["ifname", "ipv6_addr"],
  nd6: ["ifname", { raw: 16 }],
} as const satisfies Record<string, readonly KeyField[]>;

/** A guard set's name. */
export type GuardSet = keyof typeof GUARD_SETS;

/** One guard table: its family, sets and base chain. */
export interface GuardTable {
  family: NftFamily;
  sets: readonly GuardSet[];
  hook: "prerouting" | "input";
  /** The pod chain's rules (without comments), in order. */
  rules: readonly [rule: string, comment: string][];
}

const MAC_RULE: [string, string] = [
  "iifname . ether saddr != @macs drop",
  "hostgate: forged source MAC",
];
const ARP_RULES: [string, string][] = [
  ["iifname . arp saddr ether != @macs drop", "hostgate: ARP with a forged sender MAC"],
  ["arp saddr ip 0.0.0.0 accept", "hostgate: ARP probe"],
  ["iifname . arp saddr ip @addr4 accept", "hostgate: ARP for own addresses"],
];
const IP_RULES: [string, string][] = [
  ["iifname . ip saddr @addr4 accept", "hostgate: own IPv4 source"],
  [
    "icmpv6 type { nd-router-advert, nd-redirect } drop",
    "hostgate: no router advertisement or redirect",
  ],
  [
    "icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @nd6 drop",
    "hostgate: neighbour advertisement for own addresses only",
  ],
  ["ip6 saddr { ::, fe80::/10 } accept", "hostgate: IPv6 link-local or unspecified source"],
  ["iifname . ip6 saddr @addr6 accept", "hostgate: own IPv6 source"],
];
const DROP: [string, string] = ["drop", "hostgate: anything else a guarded pod sends"];

/** The tables of each mode. */
export const GUARD_TABLES: Record<GuardMode, readonly GuardTable[]> = {
  routed: [
    {
      family: "inet",
      sets: ["guarded", "macs", "addr4", "addr6", "nd6"],
      hook: "prerouting",
      rules: [MAC_RULE, ...IP_RULES, DROP],
    },
    {
      family: "arp",
      sets: ["guarded", "macs", "addr4"],
      hook: "input",
      rules: [ARP_RULES[0]!, ARP_RULES[1]!, ARP_RULES[2]!, DROP],
    },
  ],
  bridge: [
    {
      family: "bridge",
      sets: ["guarded", "macs", "addr4", "addr6", "nd6"],
      hook: "prerouting",
      rules: [MAC_RULE, ...ARP_RULES, ...IP_RULES, DROP],
    },
  ],
};

/** Every guard table of every mode (GC and DEL without a mode look at all of them). */
export const ALL_GUARD_TABLES: readonly GuardTable[] = [
  ...GUARD_TABLES.routed,
  ...GUARD_TABLES.bridge,
];

const SET_TYPES: Record<GuardSet, string> = {
  guarded: "type ifname",
  macs: "type ifname . ether_addr",
  addr4: "type ifname . ipv4_addr",
  addr6: "type ifname . ipv6_addr",
  nd6: "typeof iifname . @th,64,128",
};

const SET_COMMENTS: Record<GuardSet, string> = {
  guarded: "hostgate: host veths under guard",
  macs: "hostgate: the MAC of each guarded pod",
  addr4: "hostgate: the IPv4 addresses of each guarded pod",
  addr6: "hostgate: the IPv6 addresses of each guarded pod",
  nd6: "hostgate: neighbour advertisement targets of each guarded pod",
};

/**
 * The `nft -f -` payload defining the guard tables of `mode`. Idempotent:
 * existing tables, sets (and their elements) stay; the chains are emptied and
 * refilled in the same transaction, so a repeat leaves one copy of each rule.
 */
export function renderGuardDefinition(mode: GuardMode): string {
  const out: string[] = [];
  for (const t of GUARD_TABLES[mode]) {
    const T = `${t.family} ${GUARD_NAME}`;
    out.push(
      `add table ${T} { comment "hostgate: anti-spoofing of ${mode} pods, owned by the hostgate plugin"; }`,
    );
    for (const s of t.sets) {
      out.push(`add set ${T} ${s} { ${SET_TYPES[s]}; comment "${SET_COMMENTS[s]}"; }`);
    }
    out.push(
      `add chain ${T} ${t.hook} { type filter hook ${t.hook} priority ${GUARD_PRIORITY}; ` +
        `policy accept; comment "hostgate: frames from guarded host veths go to pod"; }`,
      `add chain ${T} pod { comment "hostgate: what a guarded pod may send"; }`,
      `flush chain ${T} ${t.hook}`,
      `flush chain ${T} pod`,
      `add rule ${T} ${t.hook} iifname @guarded jump pod comment "hostgate: guarded host veth"`,
      ...t.rules.map(([r, c]) => `add rule ${T} pod ${r} comment "${c}"`),
    );
  }
  return out.join("\n") + "\n";
}

/** The pod's EUI-64 link-local address (what the kernel gives its interface). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(":").map((x) => parseInt(x, 16));
  b[0] = b[0]! ^ 0x02;
  const h = (x: number, y: number) => ((x << 8) | y).toString(16);
  return canonicalIp(
    `fe80::${h(b[0]!, b[1]!)}:${h(b[2]!, 0xff)}:${h(0xfe, b[3]!)}:${h(b[4]!, b[5]!)}`,
  );
}
