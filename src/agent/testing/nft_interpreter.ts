/**
 * A small interpreter of the compiled nft model for tests: walks a new
 * connection through the base chains, verdict maps and rules the way the
 * kernel would, reading set elements back from their rendered text. Lets a
 * test check that what `policy explain` says is what the table does.
 * @module
 */
import { parseIp } from "../../net/address.ts";
import type { Packet } from "../policy/evaluate.ts";
import type { NftChain, NftCond, NftModel } from "../policy/nft_model.ts";

/** Where the packet is: its hook and the node's own addresses. */
export interface HookContext {
  hook: "forward" | "input";
  localAddrs: readonly string[];
}

type Outcome = "accept" | "drop" | "continue";

function addrIn(el: string, ip: string): boolean {
  const v = parseIp(ip);
  if (el.includes("/")) {
    const [a, len] = el.split("/") as [string, string];
    const base = parseIp(a);
    if (base.family !== v.family) return false;
    const bits = BigInt((v.family === 4 ? 32 : 128) - Number(len));
    return (v.value >> bits) === (base.value >> bits);
  }
  if (el.includes("-")) {
    const [a, b] = el.split("-") as [string, string];
    const lo = parseIp(a);
    if (lo.family !== v.family) return false;
    return v.value >= lo.value && v.value <= parseIp(b).value;
  }
  const e = parseIp(el);
  return e.family === v.family && e.value === v.value;
}

function portIn(el: string, port: number): boolean {
  const [lo, hi] = el.split("-").map(Number) as [number, number | undefined];
  return port >= lo && port <= (hi ?? lo);
}

function elements(m: NftModel, set: string): string[] {
  const s = m.sets.get(set);
  if (!s) throw new Error(`Cannot interpret: set ${set} missing`);
  return s.elements;
}

function familyOf(ip: string): 4 | 6 {
  return parseIp(ip).family as 4 | 6;
}

function cond(m: NftModel, c: NftCond, p: Packet, ctx: HookContext): boolean | { jump: string } {
  const fam = familyOf(p.src);
  const hasPort = p.protocol !== "ICMP";
  const proto = p.protocol.toLowerCase();
  switch (c.kind) {
    case "ct":
    case "nd":
      return false; // a new connection, not neighbour discovery
    case "fib-local":
      return ctx.localAddrs.some((a) => addrIn(a, p.src));
    case "addr":
      return c.family === fam &&
        elements(m, c.set).some((e) => addrIn(e, c.field === "saddr" ? p.src : p.dst));
    case "ports":
      return hasPort && elements(m, c.set).some((e) => {
        const [pr, port] = e.split(" . ") as [string, string];
        return pr === proto && portIn(port, p.port);
      });
    case "named":
      return c.family === fam && hasPort && elements(m, c.set).some((e) => {
        const [a, pr, port] = e.split(" . ") as [string, string, string];
        return addrIn(a, p.dst) && pr === proto && portIn(port, p.port);
      });
    case "vmap": {
      if (c.family !== fam) return false;
      const map = m.maps.get(c.map);
      if (!map) throw new Error(`Cannot interpret: map ${c.map} missing`);
      const key = c.field === "saddr" ? p.src : p.dst;
      for (const [k, chain] of map.elements) if (addrIn(k, key)) return { jump: chain };
      return false;
    }
  }
}

function runChain(m: NftModel, chain: NftChain, p: Packet, ctx: HookContext, depth = 0): Outcome {
  if (depth > 8) throw new Error("Cannot interpret: jump loop");
  for (const r of chain.rules) {
    let jumped: Outcome | undefined;
    let ok = true;
    for (const c of r.conds) {
      const v = cond(m, c, p, ctx);
      if (v === false) {
        ok = false;
        break;
      }
      if (typeof v === "object") {
        const target = m.chains.get(v.jump);
        if (!target) throw new Error(`Cannot interpret: chain ${v.jump} missing`);
        jumped = runChain(m, target, p, ctx, depth + 1);
        if (jumped !== "continue") return jumped;
      }
    }
    if (!ok || jumped !== undefined) continue;
    if (r.verdict === "accept" || r.verdict === "drop") return r.verdict;
    if (r.verdict === "return") return "continue";
  }
  return "continue";
}

/** What the base chain of `ctx.hook` does with a new connection: true when it passes. */
export function nftPasses(m: NftModel, p: Packet, ctx: HookContext): boolean {
  const base = [...m.chains.values()].find((c) => c.base?.hook === ctx.hook);
  if (!base) return true;
  return runChain(m, base, p, ctx) !== "drop";
}
