/**
 * The bookkeeping of one reconcile pass: writes made, errors met and reasons
 * for not being ready. Each step runs through `step()`, which records a
 * failure and lets the pass go on, so what earlier steps applied is counted
 * even when a later one fails, and a broken datastore never stops route
 * repair for known nodes.
 * @module
 */
import type { Logger } from "../observe/mod.ts";

/** The tally of one pass. */
export class PassTally {
  writes = 0;
  readonly errors: Error[] = [];
  readonly notReady: string[] = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Runs one step; a throw is recorded (error, not-ready reason, one WARN) and gives undefined. */
  async step<T>(what: string, fn: () => T | Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.errors.push(err);
      this.notReady.push(`${what}: ${err.message}`);
      this.#log.warn(`Cannot ${what}`, { error: err.message });
      return undefined;
    }
  }

  /** Adds writes a step made. */
  wrote(n: number | undefined): void {
    this.writes += n ?? 0;
  }
}

/** Throws the first error of an apply step (the step records it; the apply went on). */
export function throwFirst<T extends { errors: Error[] }>(r: T): T {
  if (r.errors.length > 0) throw r.errors[0];
  return r;
}
