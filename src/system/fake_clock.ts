/**
 * The one fake clock of the unit tests: time moves only when a test calls
 * `advance(ms)`, which fires every timer (sleeps included) that falls due on
 * the way, in order, letting the promise chains they wake run before the next
 * one fires. A loop that debounces, backs off or resyncs is driven through
 * hours of its life in microseconds of real time, and a test never races the
 * machine's scheduler. `until()` beside it is the unit tests' only way to wait
 * for a condition.
 * @module
 */
import { setImmediate } from "node:timers";
import type { Clock } from "./clock.ts";

/** A timer waiting for its time. */
interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Lets every promise chain that is ready run: one macrotask turn (setImmediate,
 * ~20 µs; a 0 ms setTimeout costs ~3 ms here), after the microtask queue drains.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Options of `FakeClock`. */
export interface FakeClockOptions {
  /** Wall time at the start, ms since the epoch (default 2026-01-01T00:00:00Z). */
  now?: number;
  /** Monotonic time at the start (default 1000). */
  monotonic?: number;
  /**
   * A sleep moves the clock itself (firing what falls due before it ends), for
   * code whose only waits are its own retries and polls: it runs to completion
   * without a test driving it, yet sees the time pass.
   */
  autoAdvance?: boolean;
}

/** A `Clock` whose time and timers move only on `advance()`. */
export class FakeClock implements Clock {
  #wall: number;
  #mono: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();
  readonly #autoAdvance: boolean;

  constructor(opts: FakeClockOptions = {}) {
    this.#wall = opts.now ?? Date.UTC(2026, 0, 1);
    this.#mono = opts.monotonic ?? 1000;
    this.#autoAdvance = opts.autoAdvance ?? false;
  }

  now(): number {
    return this.#wall;
  }

  monotonic(): number {
    return this.#mono;
  }

  /** Calls `fn` once the clock has been advanced by `ms`; returns an id for clearTimeout. */
  setTimeout(fn: () => void, ms: number): number {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#mono + Math.max(0, ms), seq, fn });
    return seq;
  }

  /** Cancels a timer; unknown or fired ids are ignored. */
  clearTimeout(id: number | undefined): void {
    if (id !== undefined) this.#timers.delete(id);
  }

  /** Resolves after `ms` of fake time, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    if (this.#autoAdvance) return this.advance(Math.max(0, ms));
    return new Promise((resolve) => {
      const onAbort = () => {
        this.clearTimeout(id);
        resolve();
      };
      const id = this.setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Number of timers (sleeps included) not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Milliseconds until the next timer is due, or undefined when none waits. */
  nextDue(): number | undefined {
    const next = this.#next(Infinity);
    return next && next.at - this.#mono;
  }

  /**
   * Moves time forward by `ms`, firing each timer due on the way at its own
   * time and letting what it wakes run (which may set more timers, fired too
   * when they fall inside the window).
   */
  async advance(ms: number): Promise<void> {
    if (ms < 0) throw new Error(`Cannot advance the clock: ${ms} ms is negative`);
    const target = this.#mono + ms;
    await settle();
    for (let t = this.#next(target); t; t = this.#next(target)) {
      this.#move(t.at);
      this.#timers.delete(t.seq);
      t.fn();
      await settle();
    }
    this.#move(target);
    await settle();
  }

  #move(to: number): void {
    this.#wall += to - this.#mono;
    this.#mono = to;
  }

  #next(limit: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.#timers.values()) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Options of `until`. */
export interface UntilOptions {
  /** Advanced by `stepMs` per round; without it only ready promise chains run. */
  clock?: FakeClock;
  /** Fake time per round (default 10 ms). */
  stepMs?: number;
  /** Gives up after this much fake time (default 60 s), or after 1000 rounds without a clock. */
  maxMs?: number;
}

/** Rounds of `until` without a clock before it gives up. */
const ROUNDS_WITHOUT_CLOCK = 1000;

/**
 * Waits until `cond` holds, moving the fake clock (when given) a step per
 * round; throws `Cannot see <what>` when it never does. Never waits on real time.
 */
export async function until(
  what: string,
  cond: () => boolean,
  opts: UntilOptions = {},
): Promise<void> {
  const step = opts.stepMs ?? 10;
  const max = opts.maxMs ?? 60_000;
  for (let round = 0, spent = 0; !cond(); round++) {
    if (opts.clock ? spent >= max : round >= ROUNDS_WITHOUT_CLOCK) {
      throw new Error(
        `Cannot see ${what}: still false after ${opts.clock ? `${spent} ms` : `${round} rounds`}`,
      );
    }
    if (opts.clock) {
      await opts.clock.advance(step);
      spent += step;
    } else {
      await settle();
    }
  }
}
