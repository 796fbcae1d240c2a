/**
 * The apply side of policy: the compiled model against the kernel's table,
 * the difference as one `nft -f` transaction. Level-triggered: the table is
 * read back (`nft -j list table`) on the first pass and every `verify` pass
 * (the slow resync), and between them the last applied model stands in for
 * it, so an event costs a diff and one small transaction. A failed delta is
 * retried once against a fresh read, then the table is rewritten whole in
 * one transaction (never flushed in place).
 * @module
 */
import type { Clock } from "../../system/clock.ts";
import type { NftJson } from "../../system/nft_json.ts";
import type { Logger } from "../../system/log.ts";
import { M, type Metrics } from "../observe/metrics.ts";
import { type ActualTable, parseActual } from "./actual.ts";
import { diffTable, replacePayload } from "./diff.ts";
import { modelSize, type NftModel, POLICY_TABLE, ruleComment } from "./nft_model.ts";

/** What one pass did. */
export interface PolicySyncResult {
  /** Commands applied (0 when the table already matched). */
  commands: number;
  /** Whole-table rewrite after a failed delta. */
  rewrote: boolean;
  ms: number;
}

/** Options of `PolicySync`. */
export interface PolicySyncOptions {
  nft: NftJson;
  clock: Clock;
  metrics?: Metrics;
  log?: Logger;
}

/** The table as the model says it is (what a read after applying it would give). */
export function modelAsActual(m: NftModel): ActualTable {
  return {
    sets: new Map(
      [...m.sets.values()].map((s) => [s.name, { type: s.type, elements: s.elements }]),
    ),
    maps: new Map(
      [...m.maps.values()].map((
        x,
      ) => [x.name, { keyType: x.keyType, elements: new Map(x.elements) }]),
    ),
    chains: new Map([...m.chains.values()].map((c) => [c.name, {
      ...(c.base ? { hook: c.base.hook, prio: c.base.prio } : {}),
      fingerprints: c.rules.map(ruleComment),
      packets: 0,
    }])),
  };
}

/** See the module doc. */
export class PolicySync {
  readonly #o: PolicySyncOptions;
  #last: NftModel | undefined;

  constructor(opts: PolicySyncOptions) {
    this.#o = opts;
  }

  async #read(): Promise<ActualTable | undefined> {
    const items = await this.#o.nft.listTable(POLICY_TABLE.family, POLICY_TABLE.name);
    return items ? parseActual(items) : undefined;
  }

  /** Brings the table to `desired`. */
  async sync(desired: NftModel, opts: { verify?: boolean } = {}): Promise<PolicySyncResult> {
    const t0 = this.#o.clock.monotonic();
    const read = opts.verify || !this.#last;
    const actual = read ? await this.#read() : modelAsActual(this.#last!);
    if (actual && read) this.#dropMetrics(desired, actual);
    let cmds = diffTable(actual, desired);
    let rewrote = false;
    let applied = 0;
    if (cmds.length > 0) {
      try {
        await this.#o.nft.apply(cmds.join("\n") + "\n");
        applied = cmds.length;
      } catch (e) {
        this.#last = undefined;
        this.#o.metrics?.inc(M.policyErrors);
        this.#o.log?.warn("Cannot apply the policy delta; retrying against a fresh read", {
          error: (e as Error).message,
        });
        cmds = diffTable(await this.#read(), desired);
        try {
          if (cmds.length > 0) await this.#o.nft.apply(cmds.join("\n") + "\n");
          applied = cmds.length;
        } catch (e2) {
          this.#o.log?.warn("Cannot apply the policy delta; rewriting the table", {
            error: (e2 as Error).message,
          });
          await this.#o.nft.apply(replacePayload(desired));
          rewrote = true;
          applied = cmds.length;
        }
      }
    }
    this.#last = desired;
    const ms = this.#o.clock.monotonic() - t0;
    const m = this.#o.metrics;
    if (m) {
      const size = modelSize(desired);
      m.set(M.policyRules, size.rules);
      m.set(M.policyElements, size.elements);
      if (applied > 0) {
        m.inc(M.policyApplies);
        m.observe(M.policyApplyDuration, ms / 1000);
      }
    }
    return { commands: applied, rewrote, ms };
  }

  /** Drops counted by each policy's deny rules (a drop counts for every policy isolating the pod). */
  #dropMetrics(desired: NftModel, actual: ActualTable): void {
    const m = this.#o.metrics;
    if (!m) return;
    const per = new Map<string, number>();
    for (const c of desired.chains.values()) {
      for (const p of c.policies ?? []) {
        per.set(p, (per.get(p) ?? 0) + (actual.chains.get(c.name)?.packets ?? 0));
      }
    }
    m.clear(M.policyDrops);
    for (const [policy, n] of per) m.set(M.policyDrops, n, { policy });
  }
}

/** Removes the policy table (uninstall); false when there was none. */
export async function removePolicyTable(nft: NftJson): Promise<boolean> {
  const items = await nft.listTable(POLICY_TABLE.family, POLICY_TABLE.name);
  if (!items) return false;
  await nft.apply(`delete table ${POLICY_TABLE.family} ${POLICY_TABLE.name}\n`);
  return true;
}
