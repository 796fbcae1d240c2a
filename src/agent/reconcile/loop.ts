/**
 * What decides when the reconciler runs. `Waker` collapses any number of
 * `fire()` calls (datastore changes, route-monitor events) into one pending
 * pass; `runLoop` waits for that or for the periodic safety resync,
 * debounces, runs one pass, and after a failed pass tries again after an
 * exponential backoff (`backoffMs`). A pass computes everything from current
 * state, so it never matters how many triggers one pass answers. Time comes
 * from `Clock`, so tests drive the loop without real waiting.
 * @module
 */
import type { Clock } from "../../system/clock.ts";

/** The abort reason that ends a wait's timer. */
const WAIT_OVER = "wait over";

/** A one-slot wake-up: fire() any number of times, wait() returns once per batch. */
export class Waker {
  #pending = false;
  #resolve: (() => void) | undefined;

  /** Asks for a pass. */
  fire(): void {
    this.#pending = true;
    const r = this.#resolve;
    this.#resolve = undefined;
    r?.();
  }

  /** True when a pass has been asked for and not yet taken. */
  get pending(): boolean {
    return this.#pending;
  }

  /** Takes the pending request (called right before a pass). */
  take(): void {
    this.#pending = false;
  }

  /** Resolves on fire(), after `timeoutMs`, or on abort, whichever is first. */
  async wait(clock: Clock, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#pending || signal.aborted) return;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#resolve = resolve;
          stop.signal.addEventListener("abort", () => resolve(), { once: true });
        }),
        clock.sleep(timeoutMs, stop.signal),
      ]);
    } finally {
      this.#resolve = undefined;
      // A reason, so no DOMException (with its stack) is built on every wake-up.
      stop.abort(WAIT_OVER);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/** Doublings after which the backoff stops growing (keeps 2**n a finite, exact number). */
const MAX_DOUBLINGS = 30;

/** Exponential backoff: min, 2*min, 4*min ... capped at max. */
export function backoffMs(failures: number, minMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, MAX_DOUBLINGS));
}

/** Options of `runLoop`. */
export interface LoopOptions {
  clock: Clock;
  waker: Waker;
  signal: AbortSignal;
  debounceMs: number;
  resyncIntervalMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** One pass; resolves true when it succeeded. */
  pass: () => Promise<boolean>;
  /** Called after each pass with the delay until the next unprompted one. */
  onPass?: (ok: boolean, nextMs: number) => void;
}

/**
 * Runs passes until `signal` aborts: one at once, then one per trigger
 * (after `debounceMs`), one every `resyncIntervalMs`, and after a failure
 * one after the backoff delay (a trigger still wakes it sooner).
 */
export async function runLoop(o: LoopOptions): Promise<void> {
  let failures = 0;
  o.waker.fire();
  while (!o.signal.aborted) {
    const next = failures > 0
      ? backoffMs(failures, o.retryMinMs, o.retryMaxMs)
      : o.resyncIntervalMs;
    await o.waker.wait(o.clock, next, o.signal);
    if (o.signal.aborted) break;
    if (o.debounceMs > 0) await o.clock.sleep(o.debounceMs, o.signal);
    if (o.signal.aborted) break;
    o.waker.take();
    const ok = await o.pass();
    failures = ok ? 0 : failures + 1;
    o.onPass?.(
      ok,
      failures > 0 ? backoffMs(failures, o.retryMinMs, o.retryMaxMs) : o.resyncIntervalMs,
    );
  }
}
