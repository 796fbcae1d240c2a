/**
 * The guard's `nft` for unit tests: a definition payload (render.ts) defines
 * the tables and sets in a FakeNftSets (element state), anything else (the
 * legacy per-veth chains) goes to a chain-level FakeChainNft. Faults from
 * `failNext` hit the next payload of either kind.
 * @module
 */
import { FakeChainNft } from "../../system/fake_nft_chains.ts";
import { type Nft, NftError } from "../../system/nft.ts";
import { FakeNftSets as FakeElementSets, type NftFamily } from "../../system/nftables/mod.ts";
import { describeElement } from "./elements.ts";
import { GUARD_NAME, GUARD_SETS, type GuardSet } from "./render.ts";

/** Routes definition payloads to the element fake, others to the chain fake. */
export class FakeGuardNft implements Nft {
  readonly sets: FakeElementSets;
  readonly legacy = new FakeChainNft();
  /** Every definition payload applied (also failed ones). */
  readonly definitions: string[] = [];
  readonly #faults: Error[] = [];

  constructor(sets: FakeElementSets = new FakeElementSets()) {
    this.sets = sets;
  }

  /** Makes the next apply throw `err`, changing nothing. */
  failNext(err: Error = new NftError(1, "Cannot apply nft payload: injected")): void {
    this.#faults.push(err);
  }

  listTable(family: string, name: string): Promise<string | undefined> {
    return this.legacy.listTable(family, name);
  }

  /** Legacy chains and the definition payloads: every nft spawn the guard made. */
  get payloads(): string[] {
    return [...this.definitions, ...this.legacy.payloads];
  }

  /** Legacy payloads; the kernel's tables are one namespace, so the element fake sees them too. */
  async #applyLegacy(payload: string): Promise<void> {
    await this.legacy.apply(payload);
    for (const m of payload.matchAll(/^(?:add|delete) table (\S+) (\S+)/gm)) {
      const exists = await this.legacy.listTable(m[1]!, m[2]!) !== undefined;
      if (exists) this.sets.addTable(m[1]!, m[2]!);
      else this.sets.deleteTable(m[1]!, m[2]!);
    }
  }

  apply(payload: string): Promise<void> {
    const f = this.#faults.shift();
    if (!/^add set /m.test(payload)) {
      if (f) this.legacy.failNext(f);
      return this.#applyLegacy(payload);
    }
    this.definitions.push(payload);
    if (f) return Promise.reject(f);
    this.sets.applyDefinition(payload);
    return Promise.resolve();
  }
}

/** The guard elements of one family's table as text per set (`hg... . 10.0.0.2`), sorted. */
export function guardElements(
  sets: FakeElementSets,
  family: NftFamily,
): Partial<Record<GuardSet, string[]>> {
  const out: Partial<Record<GuardSet, string[]>> = {};
  for (const set of Object.keys(GUARD_SETS) as GuardSet[]) {
    const els = sets.elements({ family, table: GUARD_NAME, set });
    if (els) out[set] = els.map((e) => describeElement(set, e.key)).sort();
  }
  return out;
}
