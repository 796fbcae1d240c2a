/**
 * A stateful fake of `NftJson`: it parses the subset of nft syntax the
 * policy sync writes (tables, sets, verdict maps, elements, chains, rules,
 * flush and delete), applies each payload as one transaction (all or
 * nothing), refuses what the kernel refuses (duplicate or missing elements,
 * a rule naming a missing set, a map jumping to a missing chain, deleting
 * what is still referenced) and lists the table in `nft -j` form. Faults can
 * be injected, and drop counters bumped to test metrics.
 * @module
 */
import type { NftJson } from "./nft_json.ts";
import { NftError } from "./nft.ts";

interface FSet {
  type: string[];
  map: boolean;
  elements: Map<string, string | undefined>;
}

interface FChain {
  hook?: string;
  prio?: number;
  rules: { text: string; comment: string; packets: number }[];
}

interface FTable {
  sets: Map<string, FSet>;
  chains: Map<string, FChain>;
}

function clone(t: FTable): FTable {
  return {
    sets: new Map([...t.sets].map(([k, s]) => [k, { ...s, elements: new Map(s.elements) }])),
    chains: new Map(
      [...t.chains].map(([k, c]) => [k, { ...c, rules: c.rules.map((r) => ({ ...r })) }]),
    ),
  };
}

function splitElements(body: string): string[] {
  return body.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** JSON form of one element text, as nft prints it. */
function elementJson(text: string): unknown {
  const parts = text.split(" . ");
  const one = (p: string): unknown => {
    if (/^\d+$/.test(p)) return Number(p);
    if (/^\d+-\d+$/.test(p)) return { range: p.split("-").map(Number) };
    if (p.includes("/")) {
      const [addr, len] = p.split("/");
      return { prefix: { addr, len: Number(len) } };
    }
    if (/^[0-9a-f.:]+-[0-9a-f.:]+$/.test(p)) return { range: p.split("-") };
    return p;
  };
  return parts.length === 1 ? one(parts[0]!) : { concat: parts.map(one) };
}

/** See the module doc. */
export class FakeNftJson implements NftJson {
  readonly family: string;
  readonly name: string;
  #table: FTable | undefined;
  /** Payloads applied (including failed ones), in order. */
  readonly payloads: string[] = [];
  /** Failures to inject: the next `failApplies` applies throw. */
  failApplies = 0;
  failLists = 0;

  constructor(opts: { family?: string; name?: string } = {}) {
    this.family = opts.family ?? "inet";
    this.name = opts.name ?? "hostgate-policy";
  }

  /** True when the table exists. */
  get exists(): boolean {
    return this.#table !== undefined;
  }

  /** Adds `packets` to the counter rules of a chain (simulated drops). */
  bumpCounters(chain: string, packets: number): void {
    for (const r of this.#table?.chains.get(chain)?.rules ?? []) {
      if (r.text.includes("counter")) r.packets += packets;
    }
  }

  /** Elements of a set or map (keys), for assertions. */
  elements(set: string): string[] {
    return [...(this.#table?.sets.get(set)?.elements.keys() ?? [])];
  }

  /** Chain names, for assertions. */
  chainNames(): string[] {
    return [...(this.#table?.chains.keys() ?? [])];
  }

  /** Rule texts of a chain. */
  rules(chain: string): string[] {
    return (this.#table?.chains.get(chain)?.rules ?? []).map((r) => r.text);
  }

  listTable(family: string, name: string): Promise<unknown[] | undefined> {
    if (this.failLists > 0) {
      this.failLists--;
      return Promise.reject(new NftError(1, "Cannot list nft table: injected fault"));
    }
    if (family !== this.family || name !== this.name || !this.#table) {
      return Promise.resolve(undefined);
    }
    const t = this.#table;
    const base = { family, table: name };
    const out: unknown[] = [{ metainfo: { json_schema_version: 1 } }, { table: { family, name } }];
    for (const [n, s] of t.sets) {
      const type = s.type.length === 1 ? s.type[0] : s.type;
      if (s.map) {
        out.push({
          map: {
            ...base,
            name: n,
            type,
            map: "verdict",
            elem: [...s.elements].map(([k, v]) => [elementJson(k), { jump: { target: v } }]),
          },
        });
      } else {
        out.push({
          set: {
            ...base,
            name: n,
            type,
            flags: ["interval"],
            elem: [...s.elements.keys()].map(elementJson),
          },
        });
      }
    }
    for (const [n, c] of t.chains) {
      out.push({
        chain: {
          ...base,
          name: n,
          ...(c.hook ? { type: "filter", hook: c.hook, prio: c.prio, policy: "accept" } : {}),
        },
      });
    }
    for (const [n, c] of t.chains) {
      for (const r of c.rules) {
        const expr: unknown[] = [{ fake: r.text }];
        if (r.text.includes(" counter") || r.text.startsWith("counter")) {
          expr.push({ counter: { packets: r.packets, bytes: 0 } });
        }
        out.push({ rule: { ...base, chain: n, comment: r.comment, expr } });
      }
    }
    return Promise.resolve(out);
  }

  apply(payload: string): Promise<void> {
    this.payloads.push(payload);
    if (this.failApplies > 0) {
      this.failApplies--;
      return Promise.reject(new NftError(1, "Cannot apply nft payload: injected fault"));
    }
    let t = this.#table ? clone(this.#table) : undefined;
    const prefix = `${this.family} ${this.name} `;
    const fail = (line: string, why: string): never => {
      throw new NftError(1, `Cannot apply nft payload: ${why}: ${line.slice(0, 200)}`);
    };
    for (const raw of payload.split("\n")) {
      const line = raw.trim();
      if (line === "") continue;
      const m = /^(add|delete|flush) (table|set|map|element|chain|rule) (.*)$/.exec(line);
      if (!m) fail(line, "unsupported syntax");
      const [, verb, what, rest0] = m!;
      if (!rest0!.startsWith(prefix.trim())) fail(line, "not this table");
      if (what === "table") {
        if (verb === "add") t ??= { sets: new Map(), chains: new Map() };
        else if (verb === "delete") {
          if (!t) fail(line, "No such file or directory");
          t = undefined;
        }
        continue;
      }
      if (!t) fail(line, "No such file or directory (table)");
      const tb = t!;
      const rest = rest0!.slice(prefix.length);
      const sp = rest.indexOf(" ");
      const name = sp < 0 ? rest : rest.slice(0, sp);
      const tail = sp < 0 ? "" : rest.slice(sp + 1);
      const body = /^\{(.*)\}$/.exec(tail.trim())?.[1] ?? "";
      if (what === "set" || what === "map") {
        if (verb === "add") {
          if (tb.sets.has(name)) continue;
          const type = /type ([^;:]+?)( : verdict)?;/.exec(body);
          if (!type) fail(line, "set without type");
          tb.sets.set(name, {
            type: type![1]!.split(" . "),
            map: what === "map",
            elements: new Map(),
          });
        } else if (verb === "delete") {
          if (!tb.sets.has(name)) fail(line, "No such file or directory (set)");
          for (const c of tb.chains.values()) {
            if (c.rules.some((r) => r.text.includes(`@${name} `) || r.text.endsWith(`@${name}`))) {
              fail(line, "Device or resource busy");
            }
          }
          tb.sets.delete(name);
        }
      } else if (what === "element") {
        const s = tb.sets.get(name) ?? fail(line, "No such file or directory (set)");
        for (const el of splitElements(body)) {
          const [k, v] = s.map ? el.split(" : ") : [el, undefined];
          const target = v?.replace(/^jump /, "");
          if (verb === "add") {
            if (s.elements.has(k!)) fail(line, "File exists");
            if (target !== undefined && !tb.chains.has(target)) {
              fail(line, "No such file or directory (chain)");
            }
            s.elements.set(k!, target);
          } else if (verb === "delete") {
            if (!s.elements.delete(k!)) fail(line, "No such file or directory (element)");
          }
        }
      } else if (what === "chain") {
        if (verb === "add") {
          if (tb.chains.has(name)) continue;
          const hook = /hook (\w+) priority ([^;]+);/.exec(body);
          const prio = hook
            ? (hook[2]!.trim() === "filter"
              ? 0
              : Number(hook[2]!.replace(/^filter\s*/, "").replace(/\s+/g, "")))
            : undefined;
          tb.chains.set(name, { ...(hook ? { hook: hook[1], prio } : {}), rules: [] });
        } else if (verb === "flush") {
          (tb.chains.get(name) ?? fail(line, "No such file or directory (chain)")).rules = [];
        } else {
          if (!tb.chains.has(name)) fail(line, "No such file or directory (chain)");
          for (const s of tb.sets.values()) {
            if ([...s.elements.values()].includes(name)) fail(line, "Device or resource busy");
          }
          tb.chains.delete(name);
        }
      } else if (what === "rule") {
        const c = tb.chains.get(name) ?? fail(line, "No such file or directory (chain)");
        const cm = /comment "([^"]*)"$/.exec(tail);
        for (const ref of tail.matchAll(/@([\w.-]+)/g)) {
          if (!tb.sets.has(ref[1]!)) fail(line, `No such file or directory (set ${ref[1]})`);
        }
        c.rules.push({
          text: tail.replace(/ comment "[^"]*"$/, ""),
          comment: cm?.[1] ?? "",
          packets: 0,
        });
      }
    }
    this.#table = t;
    return Promise.resolve();
  }
}
