/**
 * The compiler: the resolved model and this node → the nft model of
 * `table inet hostgate-policy`. Per rule, sets of peer addresses and ports
 * (named ports as address . protocol . port); per distinct combination of
 * isolating policies, one chain of those rules; per local pod address, a
 * verdict-map element jumping to its chain. A packet costs one conntrack
 * test, one map lookup and the rules of the policies selecting its pod, never
 * a walk over every policy. Chain text depends only on the policy specs, so a
 * pod coming or going changes set and map elements, not rules.
 * @module
 */
import { bigIntToIp, type Family, parseIp } from "../../net/address.ts";
import { addressElement, mergePortIntervals } from "./intervals.ts";
import {
  emptyModel,
  hash,
  type NftChain,
  type NftCond,
  type NftMap,
  type NftModel,
  type NftRule,
} from "./nft_model.ts";
import type { Direction, PolicyModel, ResolvedRule } from "./types.ts";

/** Options of `compile`. */
export interface CompileOptions {
  /** This node's name: only its pods get map elements. */
  node: string;
  /** Families to write rules for; default: those of any pod address or ipBlock. */
  families?: (4 | 6)[];
}

const MAPS = {
  ingress: { 4: "ingress4", 6: "ingress6" },
  egress: { 4: "egress4", 6: "egress6" },
} as const;

/** Set names of a rule. */
export function ruleSetNames(
  r: ResolvedRule,
): { peers: Record<4 | 6, string>; ports: string; named: Record<4 | 6, string> } {
  const h = `r${hash(r.key).slice(0, 12)}`;
  return {
    peers: { 4: `${h}-a4`, 6: `${h}-a6` },
    ports: `${h}-pt`,
    named: { 4: `${h}-n4`, 6: `${h}-n6` },
  };
}

/** Chain name of a set of isolating policies in one direction. */
export function groupChainName(dir: Direction, policies: string[]): string {
  return `${dir === "ingress" ? "in" : "eg"}-${hash(policies.join("\n")).slice(0, 12)}`;
}

function familiesOf(model: PolicyModel): (4 | 6)[] {
  const fams = new Set<4 | 6>();
  for (const p of model.pods.values()) {
    for (const ip of p.ips) fams.add(ip.includes(":") ? 6 : 4);
    if (fams.size === 2) break;
  }
  for (const pol of model.policies) {
    for (const r of [...pol.ingress, ...pol.egress]) {
      if (r.peers.v4.length) fams.add(4);
      if (r.peers.v6.length) fams.add(6);
    }
  }
  if (fams.size === 0) fams.add(4);
  return [...fams].sort();
}

const proto = (p: string) => p.toLowerCase();

function ruleSets(
  r: ResolvedRule,
  fams: (4 | 6)[],
  out: NftModel,
  local: Set<string>,
): void {
  const names = ruleSetNames(r);
  const what = `${r.policy} ${r.direction} rule ${r.index}`;
  if (!r.anyPeer) {
    for (const f of fams) {
      const ivs = f === 4 ? r.peers.v4 : r.peers.v6;
      out.sets.set(names.peers[f], {
        name: names.peers[f],
        type: [f === 4 ? "ipv4_addr" : "ipv6_addr"],
        comment: `peers of ${what}`,
        elements: ivs.map((iv) => addressElement(f as Family, iv)),
      });
    }
  }
  if (r.ports.length) {
    const els: string[] = [];
    for (const p of ["TCP", "UDP", "SCTP"]) {
      const ivs = mergePortIntervals(
        r.ports.filter((x) => x.protocol === p).map((x) => ({ lo: x.lo, hi: x.hi })),
      );
      for (const iv of ivs) {
        els.push(`${proto(p)} . ${iv.lo === iv.hi ? iv.lo : `${iv.lo}-${iv.hi}`}`);
      }
    }
    out.sets.set(names.ports, {
      name: names.ports,
      type: ["inet_proto", "inet_service"],
      comment: `ports of ${what}`,
      elements: els,
    });
  }
  if (hasNamed(r)) {
    for (const f of fams) {
      const els = new Set<string>();
      for (const n of r.namedPorts) {
        if (n.family !== f) continue;
        const addr = bigIntToIp(f, n.address);
        // An ingress rule's named port is looked up on its destination: only
        // this node's pods are ever a destination of this node's ingress chains.
        if (r.direction === "ingress" && !local.has(addr)) continue;
        els.add(`${addr} . ${proto(n.protocol)} . ${n.port}`);
      }
      out.sets.set(names.named[f], {
        name: names.named[f],
        type: [f === 4 ? "ipv4_addr" : "ipv6_addr", "inet_proto", "inet_service"],
        comment: `named ports of ${what}`,
        elements: [...els].sort(),
      });
    }
  }
}

const hasNamed = (r: ResolvedRule): boolean => r.hasNamed;

/** The nft rules of one resolved rule: per family, one for numeric and one for named ports. */
export function rulesOf(r: ResolvedRule, fams: (4 | 6)[]): NftRule[] {
  const names = ruleSetNames(r);
  const verdict = r.direction === "ingress" ? "accept" : "return";
  const field = r.direction === "ingress" ? "saddr" : "daddr";
  const comment = `${r.policy} ${r.direction} #${r.index}`;
  const out: NftRule[] = [];
  const peerFams: (4 | 6 | undefined)[] = r.anyPeer ? [undefined] : fams;
  for (const f of peerFams) {
    const peer: NftCond[] = f === undefined
      ? []
      : [{ kind: "addr", family: f, field, set: names.peers[f] }];
    if (r.anyPort) out.push({ conds: peer, verdict, comment });
    if (r.ports.length) {
      out.push({ conds: [...peer, { kind: "ports", set: names.ports }], verdict, comment });
    }
    if (hasNamed(r)) {
      for (const nf of f === undefined ? fams : [f]) {
        out.push({
          conds: [...peer, { kind: "named", family: nf, set: names.named[nf] }],
          verdict,
          comment: `${comment} named`,
        });
      }
    }
  }
  return out;
}

function baseChains(fams: (4 | 6)[]): NftChain[] {
  const vm = (dir: Direction, field: "saddr" | "daddr"): NftRule[] =>
    fams.map((f) => ({
      conds: [{ kind: "vmap", family: f, field, map: MAPS[dir][f] }],
      comment: `${dir} of pods isolated for ${dir} (IPv${f})`,
    }));
  const head: NftRule[] = [
    {
      conds: [{ kind: "ct", states: ["established", "related"] }],
      verdict: "accept",
      comment: "replies of allowed connections",
    },
    { conds: [{ kind: "nd" }], verdict: "accept", comment: "IPv6 neighbour and router discovery" },
  ];
  return [
    {
      name: "forward",
      base: { hook: "forward", priority: "filter - 5", prio: -5 },
      comment: "hostgate NetworkPolicy for routed and bridged pod traffic",
      rules: [
        ...head,
        ...vm("egress", "saddr"),
        {
          conds: [{ kind: "fib-local" }],
          verdict: "accept",
          comment: "from this node (kubelet probes, hostNetwork pods)",
        },
        ...vm("ingress", "daddr"),
      ],
    },
    {
      name: "input",
      base: { hook: "input", priority: "filter - 5", prio: -5 },
      comment: "hostgate NetworkPolicy egress of pods to this node",
      rules: [...head, ...vm("egress", "saddr")],
    },
  ];
}

/** Compiles the model for `opts.node`. Pure. */
export function compile(model: PolicyModel, opts: CompileOptions): NftModel {
  if (model.scope !== undefined && model.scope !== opts.node) {
    throw new Error(
      `Cannot compile for ${opts.node}: the model holds node ${model.scope}'s policies`,
    );
  }
  const fams = opts.families ?? familiesOf(model);
  const out = emptyModel();
  const byKey = new Map(model.policies.map((p) => [p.key, p]));
  for (const dir of ["ingress", "egress"] as const) {
    for (const f of fams) {
      out.maps.set(
        MAPS[dir][f],
        {
          name: MAPS[dir][f],
          keyType: f === 4 ? "ipv4_addr" : "ipv6_addr",
          comment: `IPv${f} address of a local pod isolated for ${dir} -> its chain`,
          elements: new Map(),
        } satisfies NftMap,
      );
    }
  }
  const usedRules = new Set<string>();
  for (const [podKey, iso] of model.isolation) {
    const pod = model.pods.get(podKey);
    if (!pod || pod.nodeName !== opts.node || pod.hostNetwork) continue;
    for (const dir of ["ingress", "egress"] as const) {
      const pols = iso[dir];
      if (pols.length === 0) continue;
      const name = groupChainName(dir, pols);
      if (!out.chains.has(name)) {
        const rules: NftRule[] = [];
        for (const pk of pols) {
          for (const r of byKey.get(pk)?.[dir] ?? []) {
            usedRules.add(r.key);
            rules.push(...rulesOf(r, fams));
          }
        }
        rules.push({
          conds: [],
          counter: true,
          verdict: "drop",
          comment: `${dir} denied: ${pols.join(",")}`,
        });
        out.chains.set(name, {
          name,
          comment: `${dir} of pods selected by ${pols.join(",")}`,
          rules,
          policies: pols,
        });
      }
      for (const ip of pod.ips) {
        const f = parseIp(ip).family as 4 | 6;
        if (!fams.includes(f)) continue;
        const m = out.maps.get(MAPS[dir][f])!;
        if (!m.elements.has(ip)) m.elements.set(ip, name);
      }
    }
  }
  const local = new Set<string>();
  for (const p of model.pods.values()) {
    if (p.nodeName === opts.node && !p.hostNetwork) { for (const ip of p.ips) local.add(ip); }
  }
  for (const pol of model.policies) {
    for (const r of [...pol.ingress, ...pol.egress]) {
      if (usedRules.has(r.key)) ruleSets(r, fams, out, local);
    }
  }
  for (const c of baseChains(fams)) out.chains.set(c.name, c);
  return out;
}

/** The sets a model's rules reference (for consistency checks). */
export function referencedSets(m: NftModel): Set<string> {
  const s = new Set<string>();
  for (const c of m.chains.values()) {
    for (const r of c.rules) {
      for (const x of r.conds) if ("set" in x) s.add(x.set);
    }
  }
  return s;
}
