/**
 * Policy benchmark (issue 16), three suites printed as tables:
 * 1. latency: API event to enforcement in the kernel, p50/p99 over >= 100
 *    changes (policy_latency.ts); target p99 <= 100 ms;
 * 2. scale: 1,000 policies over 10,000 pods projected, resolved, compiled
 *    and applied as one nft transaction, with the rules and set elements
 *    produced (policy_scale.ts); target compile + apply <= 1 s;
 * 3. packets/s of small packets through a pod with 0, 10 and 100 policies
 *    selecting it (policy_pps.ts); target 100 policies >= 0.95x none.
 * Needs root (throwaway namespaces, nft, iperf3).
 * @module
 */
import { policyLatencyRows } from "./policy_latency.ts";
import { policyPps } from "./policy_pps.ts";
import { policyScale } from "./policy_scale.ts";
import { table } from "./table.ts";

/** Options of the policy benchmark. */
export interface PolicyBenchOptions {
  /** Changes per latency run (default 120). */
  changes?: number;
  /** Which suites (default all). */
  suites?: readonly ("latency" | "scale" | "pps")[];
}

/** Runs the suites; returns the printed tables. */
export async function policyBench(opts: PolicyBenchOptions = {}): Promise<string> {
  const suites = opts.suites ?? ["latency", "scale", "pps"];
  const out: string[] = [];
  if (suites.includes("latency")) {
    out.push(
      "API event to enforcement (pod relabel -> nft transaction committed, element read back):",
      table(
        ["cluster", "changes", "p50 ms", "p99 ms", "max ms", "target"],
        await policyLatencyRows(opts.changes ?? 120),
      ),
    );
  }
  if (suites.includes("scale")) {
    out.push(
      "",
      "Compile and apply (one node's table, one nft transaction):",
      (await policyScale()).text,
    );
  }
  if (suites.includes("pps")) {
    out.push(
      "",
      "Small packets through a pod (iperf3 -u -l 64 -b 0, median of 3 rounds):",
      (await policyPps()).text,
    );
  }
  return out.join("\n");
}

if (import.meta.main) console.log(await policyBench());
