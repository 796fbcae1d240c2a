/**
 * hostgate's packet filter rules as data, and the payloads that install them.
 * Everything here is pure: it reads `iptables-save` / `nft list` text and
 * renders `iptables-restore --noflush` / `nft -f` payloads (golden-tested in
 * testdata/). Own chains only, every rule commented; the jumps from FORWARD
 * and POSTROUTING are inserted only when missing (and duplicates deleted), so
 * a restart never adds a second jump.
 * @module
 */
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
    jumpComment: "hostgate: pod forwarding rules",
  },
  {
    table: "nat",
    chain: NAT_CHAIN,
    from: "POSTROUTING",
    jumpComment: "hostgate: pod masquerade rules",
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
    return [
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

/** How one of hostgate's chains looks in the kernel. */
export interface ChainState {
  table: string;
  chain: string;
  present: boolean;
  rulesMatch: boolean;
  jumps: number;
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
    return {
      table: c.table,
      chain: c.chain,
      present: t?.chains.has(c.chain) ?? false,
      rulesMatch,
      jumps: jumpsIn(t, c).length,
    };
  });
  return {
    family,
    inSync: chains.every((c) => c.present && c.rulesMatch && c.jumps === 1),
    chains,
  };
}

/**
 * The `iptables-restore --noflush` payload bringing one family in line, or ""
 * when it already is. Declaring a chain flushes it, so its rules are written
 * whole; a missing jump is inserted first in its builtin chain; extra jumps
 * are deleted. Tables already in line are left out.
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
    if (st.present && st.rulesMatch && st.jumps === 1) continue;
    out.push(`*${c.table}`, `:${c.chain} - [0:0]`);
    for (const r of chainRules(spec, family, c.chain)) out.push(`-A ${c.chain} ${r}`);
    const jumps = jumpsIn(tables.get(c.table), c);
    if (jumps.length === 0) out.push(`-I ${c.from} 1 ${jumpRule(c)}`);
    for (const extra of jumps.slice(1)) out.push(`-D ${c.from} ${extra}`);
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
};

/** Rule lines of one nft chain, as `nft list` prints them. */
export function nftChainRules(spec: FirewallSpec, chain: string): string[] {
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const c = cidrOf(spec, family);
    if (c === undefined) continue;
    const ip = family === 4 ? "ip" : "ip6";
    if (chain === FILTER_CHAIN) {
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

/**
 * The whole `nft -f` payload: create-then-delete-then-define replaces the
 * table atomically in one transaction, whether it existed or not.
 */
export function renderNft(spec: FirewallSpec): string {
  const t = `${NFT_TABLE.family} ${NFT_TABLE.name}`;
  const out = [`table ${t}`, `delete table ${t}`, `table ${t} {`];
  for (const chain of [FILTER_CHAIN, NAT_CHAIN]) {
    out.push(`\tchain ${chain} {`, `\t\t${NFT_HEADERS[chain]}`);
    for (const r of nftChainRules(spec, chain)) out.push(`\t\t${r}`);
    out.push("\t}");
  }
  out.push("}");
  return out.join("\n") + "\n";
}

/** The payload deleting hostgate's nft table (harmless when absent). */
export function renderNftRemoval(): string {
  const t = `${NFT_TABLE.family} ${NFT_TABLE.name}`;
  return `table ${t}\ndelete table ${t}\n`;
}

/** True when a `nft list table` output (undefined: no table) matches the spec. */
export function nftInSync(listText: string | undefined, spec: FirewallSpec): boolean {
  if (listText === undefined) return false;
  const { chains } = parseNftTable(listText);
  if (chains.size !== 2) return false;
  return [FILTER_CHAIN, NAT_CHAIN].every((name) => {
    const c = chains.get(name);
    const want = nftChainRules(spec, name);
    return c !== undefined && c.header === NFT_HEADERS[name] &&
      c.rules.length === want.length && c.rules.every((r, i) => r === want[i]);
  });
}
