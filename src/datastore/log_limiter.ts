/**
 * Rate-limited logging for datastore faults: while a store is away every
 * retry fails the same way, and a line per retry (hundreds per second once)
 * buries everything else. At most one line per kind of error per interval
 * (10 s); the lines held back are counted and the count rides on the next
 * line of that kind. Used by the etcd and the Kubernetes datastores.
 * @module
 */
import type { Clock } from "../system/clock.ts";

/** At most one line per this many ms for each kind of error (issue 12). */
export const LOG_EVERY_MS = 10_000;

/** Options of `LogLimiter`. */
export interface LogLimiterOptions {
  clock: Clock;
  log: (msg: string) => void;
  /** Default `LOG_EVERY_MS`. */
  everyMs?: number;
}

/**
 * The kind of an error text, for `LogLimiter.line`: the text before its first
 * colon with URLs and numbers taken out, so "Cannot list x: connect refused
 * http://10.0.0.1:6443/..., retry 3" and the next retry's text are one kind.
 */
export function errorKind(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)]*/gi, "<url>").replace(/:.*$/s, "")
    .replace(/\d+/g, "#").trim();
}

/** See the module doc. One per datastore (or per list/watch): kinds are its own. */
export class LogLimiter {
  readonly #o: LogLimiterOptions;
  readonly #seen = new Map<string, { at: number; suppressed: number }>();

  constructor(opts: LogLimiterOptions) {
    this.#o = opts;
  }

  /**
   * Logs `line` unless a line of `kind` was logged within the interval (then
   * counts it); true when it was logged.
   */
  line(kind: string, line: string): boolean {
    const now = this.#o.clock.monotonic();
    const seen = this.#seen.get(kind);
    if (seen && now - seen.at < (this.#o.everyMs ?? LOG_EVERY_MS)) {
      seen.suppressed++;
      return false;
    }
    const more = seen && seen.suppressed > 0 ? ` (${seen.suppressed} more like it)` : "";
    this.#seen.set(kind, { at: now, suppressed: 0 });
    this.#o.log(line + more);
    return true;
  }

  /** True once any line went through (a recovery is worth a line only after a fault was). */
  get used(): boolean {
    return this.#seen.size > 0;
  }
}
