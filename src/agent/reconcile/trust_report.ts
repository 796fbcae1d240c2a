/**
 * How trust-gate rejects reach people: each rejected value is counted once in
 * `hostgate_peers_rejected_total{reason}` and logged once at WARN (naming the
 * node, field and reason) when it first appears, at most `WARN_BURST` lines
 * per `WARN_WINDOW_MS` (the rest are summed in one line), so a flood of bad
 * entries cannot flood the log. The gauge shows the current count per reason.
 * @module
 */
import type { Clock } from "../../system/clock.ts";
import { type Logger, M, type Metrics } from "../observe/mod.ts";
import { type Reject, REJECT_REASONS } from "./trust.ts";

/** WARN lines per window before the rest are summarised. */
export const WARN_BURST = 10;
/** The rate-limit window. */
export const WARN_WINDOW_MS = 60_000;

function keyOf(r: Reject): string {
  return `${r.node}\u0000${r.field}\u0000${r.value}\u0000${r.reason}`;
}

/** Reports rejects across passes; one instance per agent. */
export class RejectReporter {
  readonly #d: { log: Logger; metrics: Metrics; clock: Clock };
  #seen = new Set<string>();
  #windowStart = -Infinity;
  #warned = 0;
  #suppressed = 0;

  constructor(d: { log: Logger; metrics: Metrics; clock: Clock }) {
    this.#d = d;
  }

  /** Takes the rejects of one pass. */
  report(rejects: readonly Reject[]): void {
    const { log, metrics, clock } = this.#d;
    for (const reason of REJECT_REASONS) {
      metrics.set(M.peersRejectedNow, rejects.filter((r) => r.reason === reason).length, {
        reason,
      });
    }
    const now = clock.monotonic();
    if (now - this.#windowStart >= WARN_WINDOW_MS) {
      if (this.#suppressed > 0) {
        log.warn("more datastore values rejected; see hostgate-agent status", {
          count: this.#suppressed,
        });
      }
      this.#windowStart = now;
      this.#warned = 0;
      this.#suppressed = 0;
    }
    const next = new Set<string>();
    for (const r of rejects) {
      const k = keyOf(r);
      next.add(k);
      if (this.#seen.has(k)) continue;
      metrics.inc(M.peersRejected, { reason: r.reason });
      if (this.#warned < WARN_BURST) {
        this.#warned++;
        log.warn("datastore value rejected", {
          node: r.node,
          field: r.field,
          value: r.value,
          reason: r.reason,
          why: r.detail,
        });
      } else {
        this.#suppressed++;
      }
    }
    this.#seen = next;
  }
}
