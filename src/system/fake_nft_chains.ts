/**
 * A stateful fake of `Nft` at chain level, for the plugin's per-pod guard:
 * it understands `add table`, `delete table`, `add chain` (plain or with a `{ ... }` spec),
 * `flush chain`, `delete chain` and `add rule`, applies a payload all or
 * nothing like a kernel transaction, lists tables the way `nft list table`
 * does, and can be told to fail the next call.
 * @module
 */
import { type Nft, NftError } from "./nft.ts";

interface FakeChain {
  header?: string;
  comment?: string;
  rules: string[];
}

interface FakeTable {
  comment?: string;
  chains: Map<string, FakeChain>;
}

function clone(tables: Map<string, FakeTable>): Map<string, FakeTable> {
  const out = new Map<string, FakeTable>();
  for (const [k, t] of tables) {
    const chains = new Map<string, FakeChain>();
    for (const [n, c] of t.chains) chains.set(n, { ...c, rules: [...c.rules] });
    out.set(k, { ...t, chains });
  }
  return out;
}

/** The chain-level nft fake. */
export class FakeChainNft implements Nft {
  /** Every payload applied (also failed ones), in order. */
  readonly payloads: string[] = [];
  /** Number of listTable calls. */
  lists = 0;
  #tables = new Map<string, FakeTable>();
  readonly #faults: Error[] = [];

  /** Makes the next apply or listTable throw `err` (once each call), changing nothing. */
  failNext(err: Error = new NftError(1, "Cannot apply nft payload: injected")): void {
    this.#faults.push(err);
  }

  #takeFault(): Error | undefined {
    return this.#faults.shift();
  }

  listTable(family: string, name: string): Promise<string | undefined> {
    this.lists++;
    const f = this.#takeFault();
    if (f) return Promise.reject(f);
    const t = this.#tables.get(`${family} ${name}`);
    if (!t) return Promise.resolve(undefined);
    const out = [`table ${family} ${name} {`];
    if (t.comment) out.push(`\tcomment "${t.comment}"`);
    for (const [n, c] of t.chains) {
      out.push(`\tchain ${n} {`);
      if (c.comment) out.push(`\t\tcomment "${c.comment}"`);
      if (c.header) out.push(`\t\t${c.header}`);
      for (const r of c.rules) out.push(`\t\t${r}`);
      out.push("\t}");
    }
    out.push("}");
    return Promise.resolve(out.join("\n") + "\n");
  }

  /** Chain names of a table (empty when the table is absent). */
  chains(family: string, name: string): string[] {
    return [...(this.#tables.get(`${family} ${name}`)?.chains.keys() ?? [])];
  }

  apply(payload: string): Promise<void> {
    this.payloads.push(payload);
    const f = this.#takeFault();
    if (f) return Promise.reject(f);
    const next = clone(this.#tables);
    for (const raw of payload.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const err = this.#line(next, line);
      if (err) return Promise.reject(new NftError(1, `Cannot apply nft payload: ${err}: ${line}`));
    }
    this.#tables = next;
    return Promise.resolve();
  }

  #line(tables: Map<string, FakeTable>, line: string): string | undefined {
    let m = /^add table (\S+) (\S+)(?: \{ comment "([^"]*)"; \})?$/.exec(line);
    if (m) {
      const key = `${m[1]} ${m[2]}`;
      const t: FakeTable = tables.get(key) ?? { chains: new Map() };
      if (m[3] !== undefined) t.comment = m[3];
      tables.set(key, t);
      return undefined;
    }
    m = /^delete table (\S+) (\S+)$/.exec(line);
    if (m) return tables.delete(`${m[1]} ${m[2]}`) ? undefined : "No such file or directory";
    m = /^(add|flush|delete) chain (\S+) (\S+) (\S+)(?: \{ (.*) \})?$/.exec(line);
    if (m) {
      const t = tables.get(`${m[2]} ${m[3]}`);
      if (!t) return "No such file or directory";
      const name = m[4]!;
      const have = t.chains.get(name);
      if (m[1] === "add") {
        if (!have) {
          const c: FakeChain = { rules: [] };
          const spec = m[5];
          if (spec) {
            const cm = /comment "([^"]*)";/.exec(spec);
            if (cm) c.comment = cm[1];
            c.header = spec.replace(/\s*comment "[^"]*";/, "").trim();
          }
          t.chains.set(name, c);
        }
        return undefined;
      }
      if (!have) return "No such file or directory";
      if (m[1] === "flush") have.rules = [];
      else if (have.rules.length > 0) return "Device or resource busy";
      else t.chains.delete(name);
      return undefined;
    }
    m = /^add rule (\S+) (\S+) (\S+) (.+)$/.exec(line);
    if (m) {
      const c = tables.get(`${m[1]} ${m[2]}`)?.chains.get(m[3]!);
      if (!c) return "No such file or directory";
      c.rules.push(m[4]!);
      return undefined;
    }
    return "syntax error";
  }
}
