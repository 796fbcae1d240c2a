/**
 * Native nftables behind a narrow interface: list one table and apply a
 * payload atomically with `nft -f -`. Used by the agent's `nftables` firewall
 * backend (its own `inet hostgate` table, no iptables at all).
 * @module
 */
import type { Exec } from "./exec.ts";

/** The two operations the agent needs. */
export interface Nft {
  /** `nft list table <family> <name>` text, or undefined when the table does not exist. */
  listTable(family: string, name: string): Promise<string | undefined>;
  /** Applies a payload atomically (`nft -f -`). */
  apply(payload: string): Promise<void>;
}

/**
 * What the plugin's hostPort code needs: apply a payload atomically and read
 * a table as `nft -j` objects (sets and maps with their elements and comments).
 */
export interface NftSets {
  /** Applies a payload atomically (`nft -f -`); the kernel's error text is in the NftError. */
  apply(payload: string): Promise<void>;
  /** The objects of `nft -j list table <family> <name>`, or undefined when there is no table. */
  listJson(family: string, name: string): Promise<NftObject[] | undefined>;
}

/** One entry of `nft -j` output: `{"map": {...}}`, `{"set": {...}}`, `{"chain": {...}}`... */
export type NftObject = Record<string, Record<string, unknown>>;

/** Raised when nft fails; carries its stderr. */
export class NftError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "NftError";
    this.code = code;
  }
}

/** The nft binary: the first of the usual sbin paths that exists, else "nft" from PATH. */
export function findNft(candidates = ["/usr/sbin/nft", "/sbin/nft"]): string {
  for (const c of candidates) {
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch {
      // next
    }
  }
  return "nft";
}

/** How much of nft's stderr an error keeps: a large payload's complaint can be long. */
const MAX_STDERR_CHARS = 2000;

/** The real nft program, run in the caller's network namespace. */
export class ExecNft implements Nft, NftSets {
  readonly #exec: Exec;
  readonly #timeoutMs: number;
  readonly #program: string;

  /** `program`: the nft binary ("nft" from PATH unless given; a runtime's PATH may lack sbin). */
  constructor(opts: { exec: Exec; timeoutMs?: number; program?: string }) {
    this.#exec = opts.exec;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#program = opts.program ?? "nft";
  }

  async listTable(family: string, name: string): Promise<string | undefined> {
    const r = await this.#exec.run([this.#program, "list", "table", family, name], {
      timeoutMs: this.#timeoutMs,
    });
    if (r.code === 0) return r.stdout;
    if (/No such file or directory/.test(r.stderr)) return undefined;
    throw new NftError(r.code, `Cannot list nft table ${family} ${name}: ${r.stderr.trim()}`);
  }

  async listJson(family: string, name: string): Promise<NftObject[] | undefined> {
    const r = await this.#exec.run([this.#program, "-j", "list", "table", family, name], {
      timeoutMs: this.#timeoutMs,
    });
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new NftError(r.code, `Cannot list nft table ${family} ${name}: ${r.stderr.trim()}`);
    }
    let doc: { nftables?: NftObject[] };
    try {
      doc = JSON.parse(r.stdout) as { nftables?: NftObject[] };
    } catch (e) {
      throw new NftError(
        1,
        `Cannot read nft -j output of table ${family} ${name}: ${(e as Error).message}`,
      );
    }
    return (doc.nftables ?? []).filter((o) => !("metainfo" in o));
  }

  async apply(payload: string): Promise<void> {
    const r = await this.#exec.run([this.#program, "-f", "-"], {
      stdin: payload,
      timeoutMs: this.#timeoutMs,
    });
    if (r.code !== 0) {
      throw new NftError(
        r.code,
        `Cannot apply nft payload: exit ${r.code}: ${r.stderr.trim().slice(0, MAX_STDERR_CHARS)}`,
      );
    }
  }
}

/** One chain of a listed table: its header line (type/hook/policy), comment and rule lines. */
export interface NftChain {
  /** The chain's own comment (a `comment "..."` line inside the chain). */
  comment?: string;
  header: string;
  rules: string[];
}

/**
 * Parses `nft list table` text into chains with trimmed lines. nft prints
 * back what hostgate writes in the same canonical form, so lines compare
 * directly with the rendered payload.
 */
export function parseNftTable(text: string): { comment?: string; chains: Map<string, NftChain> } {
  const chains = new Map<string, NftChain>();
  let cur: NftChain | undefined;
  let comment: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("table ")) continue;
    const m = /^chain (\S+) \{$/.exec(line);
    if (m) {
      cur = { header: "", rules: [] };
      chains.set(m[1]!, cur);
    } else if (line === "}") {
      cur = undefined;
    } else if (line.startsWith("comment ")) {
      const text = line.slice("comment ".length).replace(/^"|"$/g, "");
      if (cur) cur.comment = text;
      else comment = text;
    } else if (cur && line.startsWith("type ")) {
      cur.header = line;
    } else if (cur) {
      cur.rules.push(line);
    }
  }
  return { comment, chains };
}
