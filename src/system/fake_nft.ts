/**
 * A stateful in-memory nftables for the plugin's hostPort code: tables with
 * chains (header and rules), maps and sets with commented elements, changed
 * only by whole transactions, with the kernel's answers the plugin relies
 * on: `create element` of an existing key is "File exists", `add element`
 * of an existing key with another value is "Device or resource busy",
 * `delete element` of a missing key is "No such file or directory". It
 * understands the statement forms the plugin renders (one per line, one
 * element per statement) and rejects anything else, so a payload the fake
 * accepts is one the renderer really produced.
 * @module
 */
import { NftError, type NftObject, type NftSets } from "./nft.ts";

interface FakeSet {
  kind: "map" | "set";
  type: string;
  flags?: string;
  comment?: string;
  /** key text -> { value text (maps), comment }. */
  elements: Map<string, { value?: string; comment?: string }>;
}

interface FakeChain {
  header: string;
  rules: string[];
}

interface FakeTable {
  sets: Map<string, FakeSet>;
  chains: Map<string, FakeChain>;
}

const ELEMENT = /^(create|add|delete) element (\S+) (\S+) (\S+) \{ (.+) \}$/;

function parseElement(body: string): { key: string; value?: string; comment?: string } {
  const m = /^(.+?)(?: comment "([^"]*)")?(?: : (.+))?$/.exec(body.trim());
  if (!m) throw new Error(`bad element ${body}`);
  const out: { key: string; value?: string; comment?: string } = { key: m[1]!.trim() };
  if (m[2] !== undefined) out.comment = m[2];
  if (m[3] !== undefined) out.value = m[3].trim();
  return out;
}

function jsonAtom(text: string): unknown {
  if (/^\d+$/.test(text)) return Number(text);
  const slash = text.indexOf("/");
  if (slash > 0) {
    return { prefix: { addr: text.slice(0, slash), len: Number(text.slice(slash + 1)) } };
  }
  return text;
}

function jsonValue(text: string): unknown {
  const parts = text.split(" . ");
  return parts.length === 1 ? jsonAtom(parts[0]!) : { concat: parts.map(jsonAtom) };
}

function clone(t: FakeTable): FakeTable {
  const sets = new Map<string, FakeSet>();
  for (const [k, s] of t.sets) sets.set(k, { ...s, elements: new Map(s.elements) });
  const chains = new Map<string, FakeChain>();
  for (const [k, c] of t.chains) chains.set(k, { header: c.header, rules: [...c.rules] });
  return { sets, chains };
}

/** The fake. */
export class FakeNftSets implements NftSets {
  /** Every payload applied (also failed ones), in order. */
  readonly payloads: string[] = [];
  /** Number of listJson calls. */
  lists = 0;
  #tables = new Map<string, FakeTable>();
  #fail: Error | undefined;

  /** Makes the next apply throw (once), changing nothing. */
  failNextApply(err: Error = new NftError(1, "Cannot apply nft payload: injected")): void {
    this.#fail = err;
  }

  /** The elements of a map or set: key -> value (maps) or "" (sets), for assertions. */
  elements(table: string, name: string): Map<string, string> {
    const s = this.#tables.get(table)?.sets.get(name);
    return new Map([...(s?.elements ?? new Map())].map(([k, v]) => [k, v.value ?? ""]));
  }

  /** Rules of a chain, for assertions. */
  rules(table: string, chain: string): string[] {
    return [...(this.#tables.get(table)?.chains.get(chain)?.rules ?? [])];
  }

  /** Drops a table, as an operator's `nft delete table` would. */
  deleteTable(table: string): void {
    this.#tables.delete(table);
  }

  listJson(family: string, name: string): Promise<NftObject[] | undefined> {
    this.lists++;
    const t = this.#tables.get(`${family} ${name}`);
    if (!t) return Promise.resolve(undefined);
    const out: NftObject[] = [{ table: { family, name } }];
    for (const [setName, s] of t.sets) {
      const elem = [...s.elements].map(([key, e]) => {
        const val = jsonValue(key);
        const el = e.comment === undefined ? val : { elem: { val, comment: e.comment } };
        return s.kind === "map" ? [el, jsonValue(e.value ?? "")] : el;
      });
      const o: Record<string, unknown> = { family, name: setName, table: name };
      if (s.comment !== undefined) o["comment"] = s.comment;
      if (elem.length > 0) o["elem"] = elem;
      out.push({ [s.kind]: o });
    }
    for (const [chainName] of t.chains) {
      out.push({ chain: { family, table: name, name: chainName } });
    }
    return Promise.resolve(out);
  }

  apply(payload: string): Promise<void> {
    this.payloads.push(payload);
    if (this.#fail) {
      const e = this.#fail;
      this.#fail = undefined;
      return Promise.reject(e);
    }
    const next = new Map<string, FakeTable>();
    for (const [k, t] of this.#tables) next.set(k, clone(t));
    try {
      this.#run(next, payload.split("\n"));
    } catch (e) {
      return Promise.reject(
        new NftError(1, `Cannot apply nft payload: exit 1: ${(e as Error).message}`),
      );
    }
    this.#tables = next;
    return Promise.resolve();
  }

  #run(tables: Map<string, FakeTable>, lines: string[]): void {
    const table = (key: string): FakeTable => {
      const t = tables.get(key);
      if (!t) throw new Error(`Error: No such file or directory: table ${key}`);
      return t;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "" || line.startsWith("#")) continue;
      let m = /^table (\S+) (\S+) \{$/.exec(line);
      if (m) {
        const key = `${m[1]} ${m[2]}`;
        if (!tables.has(key)) tables.set(key, { sets: new Map(), chains: new Map() });
        i = this.#declare(tables.get(key)!, lines, i + 1);
        continue;
      }
      m = /^flush chain (\S+) (\S+) (\S+)$/.exec(line);
      if (m) {
        const c = table(`${m[1]} ${m[2]}`).chains.get(m[3]!);
        if (!c) throw new Error(`Error: No such file or directory: chain ${m[3]}`);
        c.rules = [];
        continue;
      }
      m = /^add rule (\S+) (\S+) (\S+) (.+)$/.exec(line);
      if (m) {
        const c = table(`${m[1]} ${m[2]}`).chains.get(m[3]!);
        if (!c) throw new Error(`Error: No such file or directory: chain ${m[3]}`);
        c.rules.push(m[4]!);
        continue;
      }
      m = ELEMENT.exec(line);
      if (m) {
        const s = table(`${m[2]} ${m[3]}`).sets.get(m[4]!);
        if (!s) throw new Error(`Error: No such file or directory: set ${m[4]}`);
        const e = parseElement(m[5]!);
        const have = s.elements.get(e.key);
        if (m[1] !== "delete" && (s.kind === "map") !== (e.value !== undefined)) {
          throw new Error(`Error: syntax error: element ${m[5]} of ${s.kind} ${m[4]}`);
        }
        if (m[1] === "delete") {
          if (!have) throw new Error("Error: Could not process rule: No such file or directory");
          s.elements.delete(e.key);
        } else if (have) {
          if (m[1] === "create") throw new Error("Error: Could not process rule: File exists");
          if (have.value !== e.value) {
            throw new Error("Error: Could not process rule: Device or resource busy");
          }
        } else {
          s.elements.set(e.key, { value: e.value, comment: e.comment });
        }
        continue;
      }
      throw new Error(`Error: syntax error, unexpected ${line}`);
    }
  }

  /** Reads a `table ... {` block from `from`; returns the index of its closing brace. */
  #declare(t: FakeTable, lines: string[], from: number): number {
    let i = from;
    for (; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "}") return i;
      const m = /^(map|set|chain) (\S+) \{$/.exec(line);
      if (!m) throw new Error(`Error: syntax error, unexpected ${line}`);
      const body: string[] = [];
      while (++i < lines.length && lines[i]!.trim() !== "}") body.push(lines[i]!.trim());
      if (m[1] === "chain") {
        const header = body.find((l) => l.startsWith("type ")) ?? "";
        const have = t.chains.get(m[2]!);
        if (have && have.header !== header) {
          throw new Error("Error: Could not process rule: File exists");
        }
        if (!have) t.chains.set(m[2]!, { header, rules: [] });
        continue;
      }
      const type = body.find((l) => l.startsWith("type "))!;
      const have = t.sets.get(m[2]!);
      if (have && (have.type !== type || have.kind !== m[1])) {
        throw new Error("Error: Could not process rule: File exists");
      }
      if (!have) {
        const s: FakeSet = { kind: m[1] as "map" | "set", type, elements: new Map() };
        const comment = body.find((l) => l.startsWith("comment "));
        if (comment) s.comment = comment.slice(9, -1);
        const flags = body.find((l) => l.startsWith("flags "));
        if (flags) s.flags = flags;
        t.sets.set(m[2]!, s);
      }
    }
    throw new Error("Error: syntax error, unexpected end of file");
  }
}
