/**
 * The difference between the table as it is and as it should be, as one
 * `nft -f` transaction: new sets, element deletes before adds (an interval
 * that grows must not overlap its old self), new and rewritten chains
 * (`flush chain` of just that chain), map elements, base chains, and only
 * then what is no longer referenced. An empty list means nothing to do.
 * @module
 */
import type { ActualChain, ActualTable } from "./actual.ts";
import {
  chainDecl,
  elementCmds,
  mapDecl,
  mapElements,
  type NftChain,
  type NftModel,
  POLICY_TABLE,
  ruleCmd,
  ruleComment,
  setDecl,
} from "./nft_model.ts";

const T = `${POLICY_TABLE.family} ${POLICY_TABLE.name}`;

/** The table's own declaration (idempotent `add table`). */
export const TABLE_DECL =
  `add table ${T} { comment "hostgate NetworkPolicy: owned by hostgate-agent"; }`;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function chainMatches(want: NftChain, have: ActualChain): boolean {
  if ((want.base?.hook ?? undefined) !== have.hook) return false;
  if (want.base && want.base.prio !== have.prio) return false;
  return sameList(want.rules.map(ruleComment), have.fingerprints);
}

function chainBody(c: NftChain): string[] {
  return c.rules.map((r) => ruleCmd(c.name, r));
}

/** Commands turning `actual` (undefined: no table) into `desired`. */
export function diffTable(actual: ActualTable | undefined, desired: NftModel): string[] {
  const cmds: string[] = [];
  if (!actual) cmds.push(TABLE_DECL);
  const have: ActualTable = actual ?? { sets: new Map(), maps: new Map(), chains: new Map() };
  // Sets: new ones, element deletes, element adds. Names encode the type, so a
  // listed set of another type is not ours to patch: the apply fails and the
  // caller recreates the table.
  const setAdds: string[] = [];
  const setDels: string[] = [];
  for (const s of desired.sets.values()) {
    const h = have.sets.get(s.name);
    if (!h) {
      cmds.push(setDecl(s));
      setAdds.push(...elementCmds("add", s.name, s.elements));
      continue;
    }
    const old = new Set(h.elements);
    const want = new Set(s.elements);
    setDels.push(...elementCmds("delete", s.name, h.elements.filter((e) => !want.has(e))));
    setAdds.push(...elementCmds("add", s.name, s.elements.filter((e) => !old.has(e))));
  }
  cmds.push(...setDels, ...setAdds);
  // Chains: new ones whole; changed ones flushed and refilled in this transaction.
  const late: string[] = [];
  for (const c of desired.chains.values()) {
    const h = have.chains.get(c.name);
    if (h && chainMatches(c, h)) continue;
    if (!h) {
      (c.base ? late : cmds).push(chainDecl(c), ...chainBody(c));
    } else if ((c.base?.hook) !== h.hook || (c.base && c.base.prio !== h.prio)) {
      late.push(`delete chain ${T} ${c.name}`, chainDecl(c), ...chainBody(c));
    } else {
      (c.base ? late : cmds).push(`flush chain ${T} ${c.name}`, ...chainBody(c));
    }
  }
  // Maps after the chains they jump to exist.
  for (const m of desired.maps.values()) {
    const h = have.maps.get(m.name);
    if (!h) {
      cmds.push(
        mapDecl(m),
        ...elementCmds("add", m.name, mapElements(m.elements, m.elements.keys(), true)),
      );
      continue;
    }
    const gone = [...h.elements.keys()].filter((k) => h.elements.get(k) !== m.elements.get(k));
    const fresh = [...m.elements.keys()].filter((k) => h.elements.get(k) !== m.elements.get(k));
    cmds.push(...elementCmds("delete", m.name, gone));
    cmds.push(...elementCmds("add", m.name, mapElements(m.elements, fresh, true)));
  }
  cmds.push(...late);
  // Unreferenced leftovers last: maps (base chains no longer name them), then
  // chains (no map element jumps to them any more), then sets.
  for (const name of have.maps.keys()) {
    if (!desired.maps.has(name)) cmds.push(`delete map ${T} ${name}`);
  }
  for (const name of have.chains.keys()) {
    if (!desired.chains.has(name)) cmds.push(`delete chain ${T} ${name}`);
  }
  for (const name of have.sets.keys()) {
    if (!desired.sets.has(name)) cmds.push(`delete set ${T} ${name}`);
  }
  return cmds;
}

/** The whole table from nothing (for `nft -c` checks and golden tests). */
export function fullPayload(desired: NftModel): string {
  return diffTable(undefined, desired).join("\n") + "\n";
}

/** Recovery: drop whatever the table holds and write it whole, in one transaction. */
export function replacePayload(desired: NftModel): string {
  return [TABLE_DECL, `delete table ${T}`, ...diffTable(undefined, desired)].join("\n") + "\n";
}
