/**
 * The nft model the compiler produces and the diff compares: sets, verdict
 * maps and chains of `table inet hostgate-policy` as data, with rules as
 * structured conditions (so a test can interpret them) that render to the
 * one text form nft reads. Every set, map, chain and rule carries a comment.
 * @module
 */

/** The table hostgate owns for policy; nothing outside it is touched. */
export const POLICY_TABLE = { family: "inet", name: "hostgate-policy" } as const;

/** A named set of addresses, ports, or (address, protocol, port). */
export interface NftSet {
  name: string;
  /** nft types, concatenated with " . ". */
  type: string[];
  comment: string;
  /** Canonical element texts, sorted, disjoint. */
  elements: string[];
}

/** A verdict map from a pod address to the chain of its policies. */
export interface NftMap {
  name: string;
  keyType: "ipv4_addr" | "ipv6_addr";
  comment: string;
  /** Address → chain jumped to. */
  elements: Map<string, string>;
}

/** One condition of a rule. */
export type NftCond =
  | { kind: "ct"; states: string[] }
  | { kind: "fib-local" }
  | { kind: "nd" }
  | { kind: "addr"; family: 4 | 6; field: "saddr" | "daddr"; set: string }
  | { kind: "ports"; set: string }
  | { kind: "named"; family: 4 | 6; set: string }
  | { kind: "vmap"; family: 4 | 6; field: "saddr" | "daddr"; map: string };

/** A rule: conditions, then a verdict (none for a vmap), and its comment. */
export interface NftRule {
  conds: NftCond[];
  verdict?: "accept" | "drop" | "return";
  counter?: boolean;
  comment: string;
}

/** A base chain's hook. */
export interface NftHook {
  hook: "forward" | "input";
  /** nft priority expression. */
  priority: string;
  /** Numeric priority as `nft -j` prints it. */
  prio: number;
}

/** A chain. */
export interface NftChain {
  name: string;
  base?: NftHook;
  comment: string;
  rules: NftRule[];
  /** Policies this chain enforces (for drop metrics). */
  policies?: string[];
}

/** The desired (or actual) content of the table. */
export interface NftModel {
  sets: Map<string, NftSet>;
  maps: Map<string, NftMap>;
  chains: Map<string, NftChain>;
}

/** An empty model. */
export function emptyModel(): NftModel {
  return { sets: new Map(), maps: new Map(), chains: new Map() };
}

const ip = (f: 4 | 6) => (f === 4 ? "ip" : "ip6");

/** Text of one condition. */
export function condText(c: NftCond): string {
  switch (c.kind) {
    case "ct":
      return `ct state ${c.states.join(",")}`;
    case "fib-local":
      return "fib saddr type local";
    case "nd":
      return "icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }";
    case "addr":
      return `${ip(c.family)} ${c.field} @${c.set}`;
    case "ports":
      return `meta l4proto . th dport @${c.set}`;
    case "named":
      return `${ip(c.family)} daddr . meta l4proto . th dport @${c.set}`;
    case "vmap":
      return `${ip(c.family)} ${c.field} vmap @${c.map}`;
  }
}

/** Escapes a comment: nft comments are quoted strings of at most 128 bytes. */
export function commentText(s: string): string {
  const clean = s.replace(/["\\\n]/g, "'");
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

/** Text of a rule (without the `add rule` prefix). */
export function ruleText(r: NftRule): string {
  const parts = r.conds.map(condText);
  if (r.counter) parts.push("counter");
  if (r.verdict) parts.push(r.verdict);
  parts.push(`comment "${commentText(r.comment)}"`);
  return parts.join(" ");
}

/** Small stable string hash (cyrb53), hex: names and rule fingerprints. */
export function hash(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}

/**
 * The fingerprints of a chain's rules as they appear in `nft -j` output: the
 * rule comments, each ending in a hash of the rule's text, so the diff can
 * tell an unchanged chain from the JSON without parsing expressions.
 */
export function ruleComment(r: NftRule): string {
  const body = [...r.conds.map(condText), r.counter ? "counter" : "", r.verdict ?? ""].join(" ");
  const tag = ` #${hash(body).slice(0, 8)}`;
  return commentText(r.comment).slice(0, 120 - tag.length) + tag;
}

const T = `${POLICY_TABLE.family} ${POLICY_TABLE.name}`;

/** `add set`/`add map` command of a set or map (no elements). */
export function setDecl(s: NftSet): string {
  return `add set ${T} ${s.name} { type ${s.type.join(" . ")}; flags interval; comment "${
    commentText(s.comment)
  }"; }`;
}

/** `add map` command of a verdict map (no elements). */
export function mapDecl(m: NftMap): string {
  return `add map ${T} ${m.name} { type ${m.keyType} : verdict; comment "${
    commentText(m.comment)
  }"; }`;
}

/** `add chain` command. */
export function chainDecl(c: NftChain): string {
  const base = c.base
    ? ` type filter hook ${c.base.hook} priority ${c.base.priority}; policy accept;`
    : "";
  return `add chain ${T} ${c.name} {${base} comment "${commentText(c.comment)}"; }`;
}

/** `add rule` command with the fingerprinted comment. */
export function ruleCmd(chain: string, r: NftRule): string {
  return `add rule ${T} ${chain} ${ruleText({ ...r, comment: ruleComment(r) })}`;
}

/** Element commands, batched (`verb` add or delete), at most `per` elements each. */
export function elementCmds(
  verb: "add" | "delete",
  set: string,
  els: string[],
  per = 2000,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < els.length; i += per) {
    out.push(`${verb} element ${T} ${set} { ${els.slice(i, i + per).join(", ")} }`);
  }
  return out;
}

/** Map element texts ("10.244.1.5 : jump in-abc"); keys only for deletes. */
export function mapElements(
  m: Map<string, string>,
  keys: Iterable<string>,
  withVerdict: boolean,
): string[] {
  return [...keys].map((k) => (withVerdict ? `${k} : jump ${m.get(k)}` : k));
}

/** Counts for metrics: rules and set elements. */
export function modelSize(
  m: NftModel,
): { rules: number; elements: number; sets: number; chains: number } {
  let rules = 0;
  let elements = 0;
  for (const c of m.chains.values()) rules += c.rules.length;
  for (const s of m.sets.values()) elements += s.elements.length;
  for (const x of m.maps.values()) elements += x.elements.size;
  return { rules, elements, sets: m.sets.size + m.maps.size, chains: m.chains.size };
}
