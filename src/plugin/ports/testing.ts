/**
 * A fake kernel for the hostPort code: the in-process set elements are a
 * FakeNftSets, and the fake `nft -f` understands exactly the definition and
 * source prefix statements render.ts writes: it creates the table and sets
 * (existing ones keep their elements), keeps the chains' rules, and writes
 * source prefixes as intervals: `get` of an address inside one finds it,
 * like the kernel's interval sets. Anything else is refused, so a payload
 * the fake accepts is one the renderer produced.
 * @module
 */
import { cidrContainsIp } from "../../net/mod.ts";
import type { Nft } from "../../system/nft.ts";
import { NftError } from "../../system/nft.ts";
import {
  decodeKey,
  FakeNftSets,
  type FakeSetSpec,
  keyLen,
  type NftSets,
  type SetElement,
  type SetRef,
} from "../../system/nftables/mod.ts";
import { decodeElement, SET_FIELDS, setRef } from "./elements.ts";
import { ELEMENT_SETS, PORT_SETS, PORTS_TABLE, type PortSetName, valuesText } from "./render.ts";

const T = `${PORTS_TABLE.family} ${PORTS_TABLE.name}`;
const EIO = 5;

function specOf(name: string): FakeSetSpec | undefined {
  if (name === PORT_SETS.snatsrc4) return { keyLen: 4 };
  if (name === PORT_SETS.snatsrc6) return { keyLen: 16 };
  const f = SET_FIELDS[name as PortSetName];
  if (!f) return undefined;
  return f.data ? { keyLen: keyLen(f.key), dataLen: keyLen(f.data) } : { keyLen: keyLen(f.key) };
}

/** The fake `nft -f` and set elements of one node. */
export class FakePortsKernel implements Pick<Nft, "apply"> {
  /** The elements' state (faults are injected here). */
  readonly store = new FakeNftSets();
  /** The in-process API the plugin uses: the store, with intervals for the prefix sets. */
  readonly sets: NftSets;
  /** Source prefixes by set: canonical CIDR and comment. */
  readonly #intervals = new Map<string, { cidr: string; comment: string }[]>();
  /** Every payload applied (also refused ones), in order. */
  readonly payloads: string[] = [];
  readonly #rules = new Map<string, string[]>();
  #failApply: Error | undefined;

  constructor() {
    const store = this.store;
    this.sets = {
      apply: (ops) => store.apply(ops),
      list: (ref) => store.list(ref),
      get: (ref, key) => this.#isPrefixSet(ref) ? this.#getPrefix(ref, key) : store.get(ref, key),
      hasTable: (family, table) => store.hasTable(family, table),
      close: () => {},
    };
  }

  #isPrefixSet(ref: SetRef): boolean {
    return ref.set === PORT_SETS.snatsrc4 || ref.set === PORT_SETS.snatsrc6;
  }

  async #getPrefix(ref: SetRef, key: Uint8Array): Promise<SetElement | undefined> {
    await this.store.get(ref, key); // ENOENT (and injected faults) as for any set
    const [ip] = decodeKey([ref.set === PORT_SETS.snatsrc4 ? "ipv4_addr" : "ipv6_addr"], key);
    const hit = (this.#intervals.get(ref.set) ?? []).find((i) =>
      cidrContainsIp(i.cidr, String(ip))
    );
    return hit ? { key, comment: hit.comment } : undefined;
  }

  /** Makes the next `nft -f` fail (once), changing nothing. */
  failNextDefinition(err: Error = new NftError(1, "Cannot apply nft payload: injected")): void {
    this.#failApply = err;
  }

  /** Makes the next in-process batch fail (once) with an I/O error, changing nothing. */
  failNextApply(errno = EIO): void {
    this.store.failNext(errno, { method: "apply" });
  }

  /** Deletes the table (behind the plugin's back). */
  deleteTable(table = T): void {
    const [family, name] = table.split(" ");
    this.store.deleteTable(family!, name!);
    this.#rules.clear();
    this.#intervals.clear();
  }

  /** True when the table exists. */
  hasTable(): boolean {
    return this.store.hasTableSync(PORTS_TABLE.family, PORTS_TABLE.name);
  }

  /** The rules of a chain. */
  rules(chain: string): string[] {
    return [...(this.#rules.get(chain) ?? [])];
  }

  /** A per-mapping set's elements as text: key -> data ("" for a set), the way nft prints them. */
  elements(_table: string, set: string): Map<string, string> {
    const out = new Map<string, string>();
    if (!ELEMENT_SETS.includes(set as PortSetName)) {
      throw new Error(`Cannot list ${set}: not a per-mapping set`);
    }
    for (const raw of this.store.elements(setRef(set)) ?? []) {
      const e = decodeElement(set as PortSetName, raw)!;
      out.set(valuesText(e.key), e.data ? valuesText(e.data) : "");
    }
    return out;
  }

  /** The comments of a per-mapping set's elements, by key text. */
  comments(set: PortSetName): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>();
    for (const raw of this.store.elements(setRef(set)) ?? []) {
      out.set(valuesText(decodeElement(set, raw)!.key), raw.comment);
    }
    return out;
  }

  /** The source prefixes written to a family's set. */
  prefixes(family: 4 | 6): string[] {
    return (this.#intervals.get(family === 4 ? PORT_SETS.snatsrc4 : PORT_SETS.snatsrc6) ?? [])
      .map((i) => i.cidr);
  }

  apply(payload: string): Promise<void> {
    this.payloads.push(payload);
    if (this.#failApply) {
      const e = this.#failApply;
      this.#failApply = undefined;
      return Promise.reject(e);
    }
    try {
      this.#apply(payload);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #apply(payload: string): void {
    const sets = new Map<string, FakeSetSpec>();
    const rules = new Map<string, string[]>();
    const flushed = new Set<string>();
    const prefixes: { set: string; cidr: string; comment: string }[] = [];
    let inTable = false;
    for (const raw of payload.split("\n")) {
      const line = raw.trim();
      if (line === "" || line === "}" || /^(type|flags|auto-merge|comment|policy)\b/.test(line)) {
        continue;
      }
      let m: RegExpExecArray | null;
      if (line === `table ${T} {`) {
        inTable = true;
      } else if (inTable && (m = /^(map|set) (\S+) \{$/.exec(line))) {
        const spec = specOf(m[2]!);
        if (spec) sets.set(m[2]!, spec);
        else if (!/^hostport-masq[46]$/.test(m[2]!)) throw this.#refuse(line);
      } else if (inTable && (m = /^chain (\S+) \{$/.exec(line))) {
        rules.set(m[1]!, this.#rules.get(m[1]!) ?? []);
      } else if ((m = new RegExp(`^flush chain ${T} (\\S+)$`).exec(line))) {
        flushed.add(m[1]!);
        rules.set(m[1]!, []);
      } else if ((m = new RegExp(`^add rule ${T} (\\S+) (.+)$`).exec(line))) {
        const r = rules.get(m[1]!) ?? this.#rules.get(m[1]!);
        if (!r) throw this.#refuse(line);
        r.push(m[2]!);
        rules.set(m[1]!, r);
      } else if (new RegExp(`^delete set ${T} hostport-masq[46]$`).test(line)) {
        continue;
      } else if (
        (m = new RegExp(
          `^add element ${T} (hostport-snatsrc[46]) \\{ (\\S+) comment "([^"]*)" \\}$`,
        )
          .exec(line))
      ) {
        prefixes.push({ set: m[1]!, cidr: m[2]!, comment: m[3]! });
      } else {
        throw this.#refuse(line);
      }
    }
    for (const p of prefixes) {
      if (!sets.has(p.set) && !this.store.elements(setRef(p.set))) {
        throw new NftError(1, "Error: Could not process rule: No such file or directory");
      }
    }
    // Every line understood: commit.
    for (const [name, spec] of sets) {
      this.store.addSet({ family: PORTS_TABLE.family, table: PORTS_TABLE.name, set: name }, spec);
    }
    for (const [name, r] of rules) this.#rules.set(name, r);
    for (const p of prefixes) {
      const list = this.#intervals.get(p.set) ?? [];
      if (!list.some((i) => i.cidr === p.cidr)) list.push({ cidr: p.cidr, comment: p.comment });
      this.#intervals.set(p.set, list);
    }
  }

  #refuse(line: string): NftError {
    return new NftError(1, `Error: syntax error (fake nft does not know: ${line})`);
  }
}
