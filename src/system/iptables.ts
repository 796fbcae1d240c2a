/**
 * iptables behind a narrow interface (as flannel does): whole-table save and
 * atomic `iptables-restore --noflush`, spawned as argv arrays through `Exec`.
 * The agent renders its rules as data and never edits them one by one, so two
 * operations are all it needs, and the fake (fake_iptables.ts) can model them.
 * @module
 */
import type { Exec } from "./exec.ts";
import type { Family } from "../net/mod.ts";

/** Which iptables flavour holds the rules: the legacy x_tables or the nf_tables shim. */
export type IptablesMode = "legacy" | "nft";

/** The two operations the agent needs, for one family. */
export interface Iptables {
  readonly family: Family;
  readonly mode: IptablesMode;
  /** Output of `iptables-save` over every table. */
  save(): Promise<string>;
  /** Applies `payload` with `iptables-restore --noflush`: each table commits atomically. */
  restore(payload: string): Promise<void>;
}

/** Raised when an iptables program fails; carries its stderr. */
export class IptablesError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "IptablesError";
    this.code = code;
  }
}

/** Program names of one flavour and family (Debian's alternatives names). */
export function iptablesPrograms(
  mode: IptablesMode,
  family: Family,
): { save: string; restore: string } {
  const base = family === 4 ? "iptables" : "ip6tables";
  return { save: `${base}-${mode}-save`, restore: `${base}-${mode}-restore` };
}

/** Options of ExecIptables. */
export interface ExecIptablesOptions {
  exec: Exec;
  family: Family;
  mode: IptablesMode;
  /** Seconds to wait for the xtables lock (`-w`). */
  lockWaitSeconds?: number;
  timeoutMs?: number;
}

/** The real iptables, run as processes (in the caller's network namespace). */
export class ExecIptables implements Iptables {
  readonly family: Family;
  readonly mode: IptablesMode;
  readonly #exec: Exec;
  readonly #wait: string;
  readonly #timeoutMs: number;

  constructor(opts: ExecIptablesOptions) {
    this.family = opts.family;
    this.mode = opts.mode;
    this.#exec = opts.exec;
    this.#wait = String(opts.lockWaitSeconds ?? 5);
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async save(): Promise<string> {
    const prog = iptablesPrograms(this.mode, this.family).save;
    const r = await this.#exec.run([prog], { timeoutMs: this.#timeoutMs });
    if (r.code !== 0) {
      throw new IptablesError(r.code, `Cannot run ${prog}: exit ${r.code}: ${r.stderr.trim()}`);
    }
    return r.stdout;
  }

  async restore(payload: string): Promise<void> {
    const prog = iptablesPrograms(this.mode, this.family).restore;
    const r = await this.#exec.run([prog, "-w", this.#wait, "--noflush"], {
      stdin: payload,
      timeoutMs: this.#timeoutMs,
    });
    if (r.code !== 0) {
      throw new IptablesError(r.code, `Cannot run ${prog}: exit ${r.code}: ${r.stderr.trim()}`);
    }
  }
}

/** One table of a save: chain policies ("-" for user chains) and rule lines in order. */
export interface SavedTable {
  chains: Map<string, string>;
  /** Rule lines without the leading "-A CHAIN", grouped per chain, in order. */
  rules: Map<string, string[]>;
}

/** Parses `iptables-save` text into tables; comments and counters are dropped. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("*")) {
      cur = tables.get(line.slice(1)) ?? { chains: new Map(), rules: new Map() };
      tables.set(line.slice(1), cur);
    } else if (line === "COMMIT") {
      cur = undefined;
    } else if (cur && line.startsWith(":")) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (name) {
        cur.chains.set(name, policy ?? "-");
        if (!cur.rules.has(name)) cur.rules.set(name, []);
      }
    } else if (cur && line.startsWith("-A ")) {
      const rest = line.slice(3);
      const sp = rest.indexOf(" ");
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const rule = sp < 0 ? "" : rest.slice(sp + 1);
      const list = cur.rules.get(chain) ?? [];
      list.push(rule);
      cur.rules.set(chain, list);
    }
  }
  return tables;
}

/** Splits a rule into words, honouring double quotes and backslash escapes. */
export function tokenize(rule: string): string[] {
  const out: string[] = [];
  let word = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < rule.length; i++) {
    const ch = rule[i]!;
    if (ch === "\\" && i + 1 < rule.length) {
      word += rule[++i];
      inWord = true;
    } else if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (inWord) out.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(word);
  return out;
}

/**
 * A comparison key for a rule: its words joined after unquoting. Two
 * spellings of one rule (quoted or not) give the same key, so a rule read back
 * from iptables-save matches the rule the agent rendered.
 */
export function ruleKey(rule: string): string {
  return tokenize(rule).join("\u0000");
}

/** Number of rule lines ("-A ...") in a save output, for backend detection. */
export function countRuleLines(saveText: string): number {
  return saveText.split("\n").filter((l) => l.startsWith("-")).length;
}

/**
 * Picks the iptables flavour the way kube-proxy's iptables-wrapper does: the
 * one that already holds more rules (v4 and v6 together) wins; a tie (a fresh
 * node) goes to nft, the default of every current distribution.
 */
export async function detectIptablesMode(exec: Exec): Promise<IptablesMode> {
  const count = async (mode: IptablesMode): Promise<number> => {
    let n = 0;
    for (const family of [4, 6] as const) {
      try {
        const r = await exec.run([iptablesPrograms(mode, family).save], { timeoutMs: 5_000 });
        if (r.code === 0) n += countRuleLines(r.stdout);
      } catch {
        // Program missing: this flavour holds nothing.
      }
    }
    return n;
  };
  const legacy = await count("legacy");
  const nft = await count("nft");
  return legacy > nft ? "legacy" : "nft";
}
