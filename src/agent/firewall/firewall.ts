/**
 * hostgate's packet filter rules as data, and the payloads that install them.
 * Everything here is pure: it reads `iptables-save` / `nft list` text and
 * renders `iptables-restore --noflush` / `nft -f` payloads (golden-tested in
 * testdata/). Own chains only, every rule commented. The jumps from FORWARD
 * and POSTROUTING are APPENDED, only when missing (duplicates deleted, a jump
 * of an older version that was inserted first is moved): they never pre-empt
 * rules hostgate does not own, so an operator's DROP or kube-proxy's
 * KUBE-FORWARD above them keeps deciding first, after any number of resyncs.
 * Forwarded pod traffic in conntrack state INVALID is dropped.
 * @module
 */
import { VXLAN_CHAIN, type VxlanGuard } from "./vxlan_guard.ts";
import { parseSave, ruleKey, type SavedTable, tokenize } from "../../system/iptables.ts";
import { parseNftTable } from "../../system/nft.ts";
import { type Family, familyOf } from "../../net/mod.ts";

/** hostgate's chain in the filter table, jumped from FORWARD. */
export const FILTER_CHAIN = "HOSTGATE-FWD";
/** hostgate's chain in the nat table, jumped from POSTROUTING. */
export const NAT_CHAIN = "HOSTGATE-POSTRTG";
/** The native nftables table of the `nftables` backend. */
export const NFT_TABLE = { family: "inet", name: "hostgate" } as const;

/** What the rules depend on. */
export interface FirewallSpec {
  /** Cluster pod CIDRs, one per family, canonical. */
  clusterCidrs: readonly string[];
  masquerade: boolean;
  /**
   * UDP to the VXLAN port only from these peers: HOSTGATE-VXLAN, an iptables
   * chain jumped from INPUT (vxlan_guard.ts) or an nft base chain at the input hook.
   */
  vxlanGuard?: VxlanGuard;
}

/** One of hostgate's chains and where it is jumped from. */
interface ChainSpec {
  table: "filter" | "nat";
  chain: string;
  from: string;
  jumpComment: string;
}

const CHAINS: readonly ChainSpec[] = [
  {
    table: "filter",
    chain: FILTER_CHAIN,
    from: "FORWARD",
    jumpComment: "hostgate: pod forwarding rules, after all others",
  },
  {
    table: "nat",
    chain: NAT_CHAIN,
    from: "POSTROUTING",
    jumpComment: "hostgate: pod masquerade rules, after all others",
  },
];

function q(s: string): string {
  return `"${s}"`;
}

/** The cluster CIDR of a family, if configured. */
export function cidrOf(spec: FirewallSpec, family: Family): string | undefined {
  return spec.clusterCidrs.find((c) => familyOf(c) === family);
}

/** Rules of one chain for one family, as iptables-save prints them (without "-A CHAIN"). */
export function chainRules(spec: FirewallSpec, family: Family, chain: string): string[] {
  const c = cidrOf(spec, family);
  if (c === undefined) return [];
  if (chain === FILTER_CHAIN) {
    const invalid = q("hostgate: drop pod traffic in conntrack state INVALID");
    return [
      `-s ${c} -m conntrack --ctstate INVALID -m comment --comment ${invalid} -j DROP`,
      `-d ${c} -m conntrack --ctstate INVALID -m comment --comment ${invalid} -j DROP`,
      `-s ${c} -m comment --comment ${q("hostgate: forward traffic from pods")} -j ACCEPT`,
      `-d ${c} -m comment --comment ${q("hostgate: forward traffic to pods")} -j ACCEPT`,
    ];
  }
  if (chain === NAT_CHAIN && spec.masquerade) {
    return [
      `-s ${c} ! -d ${c} -m addrtype ! --dst-type LOCAL -m comment --comment ${
        q("hostgate: masquerade pod traffic leaving the cluster")
      } -j MASQUERADE`,
    ];
  }
  return [];
}

function jumpRule(c: ChainSpec): string {
  return `-m comment --comment ${q(c.jumpComment)} -j ${c.chain}`;
}

function jumpsIn(t: SavedTable | undefined, c: ChainSpec): string[] {
  return (t?.rules.get(c.from) ?? []).filter((r) => {
    const w = tokenize(r);
    return w[w.indexOf("-j") + 1] === c.chain && w.includes("-j");
  });
}

/** True for a jump this version writes (appended); an older version's was inserted first. */
function isCurrentJump(rule: string, c: ChainSpec): boolean {
  return ruleKey(rule) === ruleKey(jumpRule(c));
}

/** How one of hostgate's chains looks in the kernel. */
export interface ChainState {
  table: string;
  chain: string;
  present: boolean;
  rulesMatch: boolean;
  jumps: number;
  /** The one jump is this version's (appended, not an old one inserted first). */
  jumpCurrent: boolean;
}

/** State of hostgate's iptables chains for one family. */
export interface IptablesState {
  family: Family;
  inSync: boolean;
  chains: ChainState[];
}

/** Compares a save output with the desired rules. */
export function inspectIptables(
  saveText: string,
  spec: FirewallSpec,
  family: Family,
): IptablesState {
  const tables = parseSave(saveText);
  const chains = CHAINS.map((c): ChainState => {
    const t = tables.get(c.table);
    const have = t?.rules.get(c.chain);
    const want = chainRules(spec, family, c.chain);
    const rulesMatch = have !== undefined && have.length === want.length &&
      have.every((r, i) => ruleKey(r) === ruleKey(want[i]!));
    const jumps = jumpsIn(t, c);
    return {
      table: c.table,
      chain: c.chain,
      present: t?.chains.has(c.chain) ?? false,
      rulesMatch,
      jumps: jumps.length,
      jumpCurrent: jumps.length === 1 && isCurrentJump(jumps[0]!, c),
    };
  });
  return {
    family,
    inSync: chains.every((c) => c.present && c.rulesMatch && c.jumpCurrent),
    chains,
  };
}

/**
 * The `iptables-restore --noflush` payload bringing one family in line, or ""
 * when it already is. Declaring a chain flushes it, so its rules are written
 * whole; a missing jump is appended to its builtin chain; extra jumps and
 * an older version's jump are deleted. Tables already in line are left out.
 */
export function renderIptablesRestore(
  saveText: string,
  spec: FirewallSpec,
  family: Family,
): string {
  if (cidrOf(spec, family) === undefined) return "";
  const tables = parseSave(saveText);
  const state = inspectIptables(saveText, spec, family);
  const out: string[] = [];
  for (const c of CHAINS) {
    const st = state.chains.find((s) => s.chain === c.chain)!;
    if (st.present && st.rulesMatch && st.jumpCurrent) continue;
    out.push(`*${c.table}`, `:${c.chain} - [0:0]`);
    for (const r of chainRules(spec, family, c.chain)) out.push(`-A ${c.chain} ${r}`);
    const jumps = jumpsIn(tables.get(c.table), c);
    const keep = jumps.find((j) => isCurrentJump(j, c));
    if (keep === undefined) out.push(`-A ${c.from} ${jumpRule(c)}`);
    let kept = false;
    for (const j of jumps) {
      if (j === keep && !kept) {
        kept = true;
        continue;
      }
      out.push(`-D ${c.from} ${j}`);
    }
    out.push("COMMIT");
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

/** The payload removing hostgate's chains and every jump to them, or "" when none exist. */
export function renderIptablesRemoval(saveText: string): string {
  const tables = parseSave(saveText);
  const out: string[] = [];
  for (const c of CHAINS) {
    const t = tables.get(c.table);
    const jumps = jumpsIn(t, c);
    if (!t?.chains.has(c.chain) && jumps.length === 0) continue;
    out.push(`*${c.table}`);
    for (const j of jumps) out.push(`-D ${c.from} ${j}`);
    if (t?.chains.has(c.chain)) out.push(`-F ${c.chain}`, `-X ${c.chain}`);
    out.push("COMMIT");
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

const NFT_HEADERS: Record<string, string> = {
  [FILTER_CHAIN]: "type filter hook forward priority filter; policy accept;",
  [NAT_CHAIN]: "type nat hook postrouting priority srcnat; policy accept;",
  [VXLAN_CHAIN]: "type filter hook input priority filter; policy accept;",
};

/** The agent's chains in the nft table (the plugin's hostPort chains share it). */
const NFT_AGENT_CHAINS = [FILTER_CHAIN, NAT_CHAIN, VXLAN_CHAIN] as const;

/** The chains a spec wants: the guard's only with VXLAN peers to guard. */
function nftWanted(spec: FirewallSpec): string[] {
  return spec.vxlanGuard ? [...NFT_AGENT_CHAINS] : [FILTER_CHAIN, NAT_CHAIN];
}

/** Rule lines of one nft chain, as `nft list` prints them. */
export function nftChainRules(spec: FirewallSpec, chain: string): string[] {
  const out: string[] = [];
  if (chain === VXLAN_CHAIN) {
    // IPv4 only, as the iptables guard: the underlay of hostgate's VXLAN is IPv4.
    const g = spec.vxlanGuard;
    if (!g) return out;
    const peers = [...new Set(g.peers)].filter((p) => familyOf(p) === 4).sort();
    for (const p of peers) {
      out.push(
        `ip saddr ${p} udp dport ${g.port} accept comment "hostgate: VXLAN from a known peer"`,
      );
    }
    out.push(
      `meta nfproto ipv4 udp dport ${g.port} drop comment "hostgate: VXLAN from an unknown sender"`,
    );
    return out;
  }
  for (const family of [4, 6] as const) {
    const c = cidrOf(spec, family);
    if (c === undefined) continue;
    const ip = family === 4 ? "ip" : "ip6";
    if (chain === FILTER_CHAIN) {
      const invalid = `comment "hostgate: drop pod traffic in conntrack state INVALID"`;
      out.push(`${ip} saddr ${c} ct state invalid drop ${invalid}`);
      out.push(`${ip} daddr ${c} ct state invalid drop ${invalid}`);
      out.push(`${ip} saddr ${c} accept comment "hostgate: forward traffic from pods"`);
      out.push(`${ip} daddr ${c} accept comment "hostgate: forward traffic to pods"`);
    } else if (chain === NAT_CHAIN && spec.masquerade) {
      out.push(
        `${ip} saddr ${c} ${ip} daddr != ${c} fib daddr type != local masquerade comment ` +
          `"hostgate: masquerade pod traffic leaving the cluster"`,
      );
    }
  }
  return out;
}

/** The declaration of hostgate's agent chains, headers only (a no-op for existing ones). */
function nftDeclareChains(t: string): string[] {
  const out = [`table ${t} {`];
  for (const chain of NFT_AGENT_CHAINS) {
    out.push(`\tchain ${chain} {`, `\t\t${NFT_HEADERS[chain]}`, "\t}");
  }
  out.push("}");
  return out;
}

/**
 * The whole `nft -f` payload: declare-then-delete-then-define replaces the
 * agent's own chains atomically in one transaction, whether they existed
 * or not (the VXLAN guard's only defined when there are VXLAN peers). Only
 * the chains: the table is shared with the plugin's hostPort maps and
 * chains, which a sync must never wipe.
 */
export function renderNft(spec: FirewallSpec): string {
  const t = `${NFT_TABLE.family} ${NFT_TABLE.name}`;
  const out = [
    ...nftDeclareChains(t),
    ...NFT_AGENT_CHAINS.map((c) => `delete chain ${t} ${c}`),
    `table ${t} {`,
  ];
  for (const chain of nftWanted(spec)) {
    out.push(`\tchain ${chain} {`, `\t\t${NFT_HEADERS[chain]}`);
    for (const r of nftChainRules(spec, chain)) out.push(`\t\t${r}`);
    out.push("\t}");
  }
  out.push("}");
  return out.join("\n") + "\n";
}

/** The payload deleting the agent's chains (harmless when absent; the plugin's part stays). */
export function renderNftRemoval(): string {
  const t = `${NFT_TABLE.family} ${NFT_TABLE.name}`;
  return [
    ...nftDeclareChains(t),
    ...NFT_AGENT_CHAINS.map((c) => `delete chain ${t} ${c}`),
  ].join("\n") + "\n";
}

/** True when a `nft list table` output holds one of the agent's chains. */
export function nftHasAgentChains(listText: string | undefined): boolean {
  if (listText === undefined) return false;
  const { chains } = parseNftTable(listText);
  return NFT_AGENT_CHAINS.some((c) => chains.has(c));
}

/** True when a `nft list table` output (undefined: no table) matches the spec. */
export function nftInSync(listText: string | undefined, spec: FirewallSpec): boolean {
  if (listText === undefined) return false;
  // Other chains (the plugin's hostPort chains) share the table: only the agent's two count.
  const { chains } = parseNftTable(listText);
  if (!spec.vxlanGuard && chains.has(VXLAN_CHAIN)) return false;
  return nftWanted(spec).every((name) => {
    const c = chains.get(name);
    const want = nftChainRules(spec, name);
    return c !== undefined && c.header === NFT_HEADERS[name] &&
      c.rules.length === want.length && c.rules.every((r, i) => r === want[i]);
  });
}
