/**
 * A stateful NftSets for unit tests: tables, sets with their key and data
 * lengths, elements with comments. A batch is applied to a copy and swapped in
 * only when every op succeeded, so a refused batch leaves nothing half-done,
 * exactly like the kernel. ENOENT for a missing table, set or deleted element,
 * EEXIST for an exclusive add of a present key, EINVAL for a key of the wrong
 * length; faults can be injected per call.
 * @module
 */

import { type KeyField, keyLen } from "./key.ts";
import {
  EEXIST,
  ENOENT,
  MAX_APPLY_OPS,
  type NftFamily,
  type NftSets,
  opAction,
  refText,
  type SetElement,
  type SetElementOp,
  type SetRef,
  setsError,
  tooMany,
} from "./types.ts";

const EINVAL = 22;
const EBUSY = 16;

/** Shape of a set in the fake. */
export interface FakeSetSpec {
  keyLen: number;
  /** Length of the mapped data of a map; absent for a plain set. */
  dataLen?: number;
}

interface FakeSet extends FakeSetSpec {
  elements: Map<string, SetElement>;
}

/** One call the fake saw. */
export interface FakeSetsCall {
  method: "apply" | "list" | "get";
  ops?: SetElementOp[];
  ref?: SetRef;
}

/** A fault: the errno to fail with and, for apply, the op index to blame (default 0). */
export interface FakeSetsFault {
  errno: number;
  atOp?: number;
  method?: FakeSetsCall["method"];
}

const KNOWN = ["ifname", "ether_addr", "ipv4_addr", "ipv6_addr", "inet_proto", "inet_service"];

/** The key length of an nft type or typeof expression (`ifname . ether_addr`, `@th,64,128`). */
function typeLen(text: string): number {
  const fields: KeyField[] = text.trim().split(/\s+\.\s+/).map((f): KeyField => {
    const raw = /^@\w+,\d+,(\d+)$/.exec(f);
    if (raw) return { raw: Number(raw[1]) / 8 };
    if (f === "iifname" || f === "oifname") return "ifname";
    if (f === "ether saddr" || f === "ether daddr") return "ether_addr";
    if (f === "ip saddr" || f === "ip daddr") return "ipv4_addr";
    if (f === "ip6 saddr" || f === "ip6 daddr") return "ipv6_addr";
    if (f === "meta l4proto") return "inet_proto";
    if (f === "th dport" || f === "th sport") return "inet_service";
    if (!KNOWN.includes(f)) throw new Error(`Cannot define fake set: unknown type ${f}`);
    return f as KeyField;
  });
  return keyLen(fields);
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function tableKey(family: string, table: string): string {
  return `${family} ${table}`;
}

type Tables = Map<string, Map<string, FakeSet>>;

function cloneTables(t: Tables): Tables {
  const out: Tables = new Map();
  for (const [k, sets] of t) {
    const s2 = new Map<string, FakeSet>();
    for (const [n, s] of sets) s2.set(n, { ...s, elements: new Map(s.elements) });
    out.set(k, s2);
  }
  return out;
}

/** The fake. */
export class FakeNftSets implements NftSets {
  #tables: Tables = new Map();
  #faults: FakeSetsFault[] = [];
  readonly calls: FakeSetsCall[] = [];
  /** Runs before every call; return an errno to fail it (after `failNext` faults). */
  hook?: (call: FakeSetsCall) => number | undefined;

  /** Creates a table (idempotent). */
  addTable(family: string, table: string): void {
    const k = tableKey(family, table);
    if (!this.#tables.has(k)) this.#tables.set(k, new Map());
  }

  /** Deletes a table with its sets. */
  deleteTable(family: string, table: string): void {
    this.#tables.delete(tableKey(family, table));
  }

  /** hasTable without the promise, for assertions. */
  hasTableSync(family: string, table: string): boolean {
    return this.#tables.has(tableKey(family, table));
  }

  /**
   * Applies the table and set definitions of an `nft -f` payload (`add table
   * F T`, `add set|map F T S { type|typeof ...; }`; other lines are ignored),
   * deriving key and data lengths from the types: what the real definition
   * does to the sets. Existing sets keep their elements.
   */
  applyDefinition(payload: string): void {
    for (const raw of payload.split("\n")) {
      const line = raw.trim();
      let m = /^add table (\S+) (\S+)/.exec(line);
      if (m) {
        this.addTable(m[1]!, m[2]!);
        continue;
      }
      m = /^add (?:set|map) (\S+) (\S+) (\S+) \{ (type|typeof) ([^;]+);/.exec(line);
      if (!m) continue;
      const [key, data] = m[5]!.split(" : ");
      const spec: FakeSetSpec = { keyLen: typeLen(key!) };
      if (data) spec.dataLen = typeLen(data);
      this.addSet({ family: m[1] as NftFamily, table: m[2]!, set: m[3]! }, spec);
    }
  }

  /** Creates a set (and its table); an existing set keeps its elements. */
  addSet(ref: SetRef, spec: FakeSetSpec): void {
    this.addTable(ref.family, ref.table);
    const sets = this.#tables.get(tableKey(ref.family, ref.table))!;
    if (!sets.has(ref.set)) sets.set(ref.set, { ...spec, elements: new Map() });
  }

  /** The elements of a set, or undefined when it does not exist. */
  elements(ref: SetRef): SetElement[] | undefined {
    const s = this.#tables.get(tableKey(ref.family, ref.table))?.get(ref.set);
    return s ? [...s.elements.values()].map((e) => ({ ...e })) : undefined;
  }

  /** Makes the next call (of `method`, any by default) fail with `errno`. */
  failNext(errno: number, opts: { atOp?: number; method?: FakeSetsCall["method"] } = {}): void {
    this.#faults.push({ errno, ...opts });
  }

  #fault(call: FakeSetsCall): FakeSetsFault | undefined {
    this.calls.push(call);
    const i = this.#faults.findIndex((f) => !f.method || f.method === call.method);
    if (i >= 0) return this.#faults.splice(i, 1)[0];
    const errno = this.hook?.(call);
    return errno ? { errno } : undefined;
  }

  apply(ops: readonly SetElementOp[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    if (ops.length > MAX_APPLY_OPS) return Promise.reject(tooMany(ops.length));
    const fault = this.#fault({ method: "apply", ops: ops.map((o) => ({ ...o })) });
    if (fault) {
      const index = Math.min(fault.atOp ?? 0, ops.length - 1);
      const op = ops[index]!;
      return Promise.reject(
        setsError({ errno: fault.errno, action: opAction(op), blamed: { op, index } }),
      );
    }
    const work = cloneTables(this.#tables);
    for (const [index, op] of ops.entries()) {
      const errno = this.#one(work, op);
      if (errno) {
        return Promise.reject(setsError({ errno, action: opAction(op), blamed: { op, index } }));
      }
    }
    this.#tables = work;
    return Promise.resolve();
  }

  #one(t: Tables, op: SetElementOp): number {
    const set = t.get(tableKey(op.family, op.table))?.get(op.set);
    if (!set) return ENOENT;
    if (op.key.length !== set.keyLen) return EINVAL;
    const k = hex(op.key);
    const have = set.elements.get(k);
    if (op.op === "delete") {
      if (!have) return ENOENT;
      set.elements.delete(k);
      return 0;
    }
    if ((set.dataLen === undefined) !== (op.data === undefined)) return EINVAL;
    if (op.data && op.data.length !== set.dataLen) return EINVAL;
    if (have) {
      if (op.exclusive) return EEXIST;
      if (op.data && have.data && hex(op.data) !== hex(have.data)) return EBUSY;
      return 0;
    }
    const e: SetElement = { key: op.key.slice() };
    if (op.data) e.data = op.data.slice();
    if (op.comment !== undefined) e.comment = op.comment;
    set.elements.set(k, e);
    return 0;
  }

  #set(ref: SetRef, action: string): FakeSet {
    const s = this.#tables.get(tableKey(ref.family, ref.table))?.get(ref.set);
    if (!s) throw setsError({ errno: ENOENT, action });
    return s;
  }

  list(ref: SetRef): Promise<SetElement[]> {
    const action = `list set ${refText(ref)}`;
    const fault = this.#fault({ method: "list", ref });
    try {
      if (fault) throw setsError({ errno: fault.errno, action });
      return Promise.resolve([...this.#set(ref, action).elements.values()].map((e) => ({ ...e })));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  get(ref: SetRef, key: Uint8Array): Promise<SetElement | undefined> {
    const action = `get element of set ${refText(ref)}`;
    const fault = this.#fault({ method: "get", ref });
    try {
      if (fault) throw setsError({ errno: fault.errno, action });
      const e = this.#set(ref, action).elements.get(hex(key));
      return Promise.resolve(e ? { ...e } : undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  hasTable(family: string, table: string): Promise<boolean> {
    return Promise.resolve(this.hasTableSync(family, table));
  }

  close(): void {}
}
