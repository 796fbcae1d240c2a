/**
 * nftables for the agent's NetworkPolicy table: read one table as JSON
 * (`nft -j list table`) and apply a payload as one atomic transaction
 * (`nft -f -`, payload on stdin, argv arrays only). The policy sync diffs
 * the JSON against the compiled model; FakeNftJson (fake_nft_json.ts) is the
 * stateful stand-in for unit tests.
 * @module
 */
import type { Exec } from "./exec.ts";
import { ExecNft } from "./nft.ts";

/** Reads and writes one nft table. */
export interface NftJson {
  /** The `nftables` array of `nft -j list table <family> <name>`; undefined when there is no such table. */
  listTable(family: string, name: string): Promise<unknown[] | undefined>;
  /** Applies a payload atomically: all of it or nothing. */
  apply(payload: string): Promise<void>;
}

/**
 * The real nft program, in the caller's network namespace: ExecNft's JSON
 * listing and atomic apply under the names the policy sync uses.
 */
export class ExecNftJson implements NftJson {
  readonly #nft: ExecNft;

  constructor(opts: { exec: Exec; timeoutMs?: number }) {
    this.#nft = new ExecNft(opts);
  }

  listTable(family: string, name: string): Promise<unknown[] | undefined> {
    return this.#nft.listJson(family, name);
  }

  apply(payload: string): Promise<void> {
    return this.#nft.apply(payload);
  }
}
