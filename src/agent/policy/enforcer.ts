/**
 * The policy loop of `hostgate-agent run`: the policy source's events wake
 * a debounced pass that resolves, compiles for this node and syncs the
 * table. Separate from the route reconciler, so a Pod churning on another
 * node costs a table diff, not a route pass, and route work never delays
 * enforcement. Until the source has read everything once, the table is left
 * as it is: an unknown state is never an empty policy set.
 * @module
 */
import type { Clock } from "../../system/clock.ts";
import type { NftJson } from "../../system/nft_json.ts";
import type { Logger } from "../../system/log.ts";
import { M, type Metrics } from "../observe/metrics.ts";
import { runLoop, Waker } from "../reconcile/loop.ts";
import { compile } from "./compile.ts";
import { resolvePolicies } from "./resolve.ts";
import type { PolicySource } from "./source.ts";
import { PolicySync, type PolicySyncResult } from "./sync.ts";

/** What the policy loop needs. */
export interface EnforcerDeps {
  source: PolicySource;
  nft: NftJson;
  nodeName: string;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  signal: AbortSignal;
  debounceMs: number;
  /** The table is read back (and drops counted) at least this often. */
  resyncIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** After each pass that ran (tests and the bench wait on it). */
  onPass?: (r: PolicySyncResult) => void;
}

/** One pass over the current inputs; undefined when they are not known yet. */
export async function enforceOnce(
  d: Pick<EnforcerDeps, "source" | "nodeName" | "metrics">,
  sync: PolicySync,
  opts: { verify?: boolean } = {},
): Promise<PolicySyncResult | undefined> {
  const input = d.source.input();
  if (!input) return undefined;
  const model = resolvePolicies(input, { node: d.nodeName });
  d.metrics.set(M.policies, input.policies.length);
  d.metrics.set(M.policyRejected, d.source.rejected().size);
  return await sync.sync(compile(model, { node: d.nodeName }), opts);
}

/** Runs the loop until `signal` aborts. */
export async function runPolicyEnforcer(d: EnforcerDeps): Promise<void> {
  const waker = new Waker();
  const sync = new PolicySync({ nft: d.nft, clock: d.clock, metrics: d.metrics, log: d.log });
  const reported = new Set<string>();
  try {
    await d.source.start(() => waker.fire());
  } catch (e) {
    d.log.error("Cannot start the NetworkPolicy watch", { error: (e as Error).message });
  }
  let verifiedAt = -Infinity;
  await runLoop({
    clock: d.clock,
    waker,
    signal: d.signal,
    debounceMs: d.debounceMs,
    resyncIntervalMs: d.resyncIntervalMs,
    retryMinMs: d.retryMinMs,
    retryMaxMs: d.retryMaxMs,
    pass: async () => {
      for (const [what, errs] of d.source.rejected()) {
        const k = `${what}: ${errs.join("; ")}`;
        if (!reported.has(k)) {
          d.log.warn("NetworkPolicy input refused", { object: what, errors: errs.join("; ") });
        }
        reported.add(k);
      }
      try {
        const now = d.clock.monotonic();
        const verify = now - verifiedAt >= d.resyncIntervalMs;
        const r = await enforceOnce(d, sync, { verify });
        if (!r) return true;
        if (verify) verifiedAt = now;
        if (r.commands > 0) {
          d.log.info("policy table updated", {
            commands: r.commands,
            ms: Math.round(r.ms),
            rewrote: r.rewrote,
          });
        }
        d.onPass?.(r);
        return true;
      } catch (e) {
        d.metrics.inc(M.policyErrors);
        d.log.warn("Cannot enforce NetworkPolicy", { error: (e as Error).message });
        return false;
      }
    },
  });
}
