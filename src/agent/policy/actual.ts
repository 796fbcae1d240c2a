/**
 * What the kernel holds: `nft -j list table inet hostgate-policy` output
 * read into sets, maps and chains with canonical element texts and the rule
 * fingerprints (comments), plus each chain's drop counter. Pure.
 * @module
 */

/** A set or map as listed. */
export interface ActualSet {
  type: string[];
  elements: string[];
}

/** A chain as listed: base hook (if any), rule fingerprints, drop packets. */
export interface ActualChain {
  hook?: string;
  prio?: number;
  fingerprints: string[];
  /** Sum of counter packets of its rules. */
  packets: number;
}

/** The table as listed. */
export interface ActualTable {
  sets: Map<string, ActualSet>;
  maps: Map<string, { keyType: string; elements: Map<string, string> }>;
  chains: Map<string, ActualChain>;
}

type J = Record<string, unknown>;
const isObj = (v: unknown): v is J => typeof v === "object" && v !== null && !Array.isArray(v);

/** Canonical text of one element expression as nft -j prints it. */
export function elementText(e: unknown): string {
  if (typeof e === "string" || typeof e === "number") return String(e);
  if (isObj(e)) {
    if (isObj(e.prefix)) return `${e.prefix.addr}/${e.prefix.len}`;
    if (Array.isArray(e.range)) return `${e.range[0]}-${e.range[1]}`;
    if (Array.isArray(e.concat)) return e.concat.map(elementText).join(" . ");
    if ("elem" in e && isObj(e.elem)) return elementText(e.elem.val);
    if ("val" in e) return elementText(e.val);
  }
  throw new Error(`Cannot read nft element: ${JSON.stringify(e)}`);
}

function typeOf(t: unknown): string[] {
  return Array.isArray(t) ? t.map(String) : [String(t)];
}

/** Reads the `nftables` array of `nft -j list table`. */
export function parseActual(items: readonly unknown[]): ActualTable {
  const out: ActualTable = { sets: new Map(), maps: new Map(), chains: new Map() };
  for (const it of items) {
    if (!isObj(it)) continue;
    if (isObj(it.set)) {
      const s = it.set;
      out.sets.set(String(s.name), {
        type: typeOf(s.type),
        elements: (Array.isArray(s.elem) ? s.elem : []).map(elementText),
      });
    } else if (isObj(it.map)) {
      const m = it.map;
      const elements = new Map<string, string>();
      for (const e of Array.isArray(m.elem) ? m.elem : []) {
        if (!Array.isArray(e)) continue;
        const v = e[1];
        const target = isObj(v) && isObj(v.jump) ? String(v.jump.target) : JSON.stringify(v);
        elements.set(elementText(e[0]), target);
      }
      out.maps.set(String(m.name), { keyType: String(m.type), elements });
    } else if (isObj(it.chain)) {
      const c = it.chain;
      out.chains.set(String(c.name), {
        ...(c.hook !== undefined ? { hook: String(c.hook), prio: Number(c.prio) } : {}),
        fingerprints: [],
        packets: 0,
      });
    } else if (isObj(it.rule)) {
      const r = it.rule;
      const c = out.chains.get(String(r.chain));
      if (!c) continue;
      c.fingerprints.push(typeof r.comment === "string" ? r.comment : "");
      for (const x of Array.isArray(r.expr) ? r.expr : []) {
        if (isObj(x) && isObj(x.counter)) c.packets += Number(x.counter.packets ?? 0);
      }
    }
  }
  return out;
}
