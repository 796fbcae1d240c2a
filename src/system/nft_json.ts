/**
 * nftables for the agent's NetworkPolicy table: read one table as JSON
 * (`nft -j list table`) and apply a payload as one atomic transaction
 * (`nft -f -`, payload on stdin, argv arrays only). The policy sync diffs
 * the JSON against the compiled model; FakeNftJson (fake_nft_json.ts) is the
 * stateful stand-in for unit tests.
 * @module
 */
import type { Exec } from "./exec.ts";
import { NftError } from "./nft.ts";

/** Reads and writes one nft table. */
export interface NftJson {
  /** The `nftables` array of `nft -j list table <family> <name>`; undefined when there is no such table. */
  listTable(family: string, name: string): Promise<unknown[] | undefined>;
  /** Applies a payload atomically: all of it or nothing. */
  apply(payload: string): Promise<void>;
}

/** The real nft program, in the caller's network namespace. */
export class ExecNftJson implements NftJson {
  readonly #exec: Exec;
  readonly #timeoutMs: number;

  constructor(opts: { exec: Exec; timeoutMs?: number }) {
    this.#exec = opts.exec;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async listTable(family: string, name: string): Promise<unknown[] | undefined> {
    const r = await this.#exec.run(["nft", "-j", "list", "table", family, name], {
      timeoutMs: this.#timeoutMs,
    });
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new NftError(r.code, `Cannot list nft table ${family} ${name}: ${r.stderr.trim()}`);
    }
    try {
      const j = JSON.parse(r.stdout) as { nftables?: unknown[] };
      return j.nftables ?? [];
    } catch (e) {
      throw new NftError(
        1,
        `Cannot read nft -j output of table ${family} ${name}: ${(e as Error).message}`,
      );
    }
  }

  async apply(payload: string): Promise<void> {
    const r = await this.#exec.run(["nft", "-f", "-"], {
      stdin: payload,
      timeoutMs: this.#timeoutMs,
    });
    if (r.code !== 0) {
      throw new NftError(
        r.code,
        `Cannot apply nft payload: exit ${r.code}: ${r.stderr.trim().slice(0, 2000)}`,
      );
    }
  }
}
