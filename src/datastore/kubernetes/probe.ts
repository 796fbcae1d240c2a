/**
 * Recovery from an API server outage without a request storm: each
 * list/watch backs off up to 30 s after failures, and while any of them
 * waits, one cheap GET /version (public, served from memory) every
 * ~`PROBE_EVERY_MS` asks whether the server is back; the first answer wakes
 * them all, so the agent is Ready and converged about a second after the
 * server returns instead of a backoff later.
 * @module
 */
import type { Clock } from "../../system/clock.ts";
import type { ApiTransport } from "./transport.ts";

/** How often the API server is probed while a list/watch waits (jittered ±50%). */
export const PROBE_EVERY_MS = 500;
/** A probe unanswered this long failed. */
export const PROBE_TIMEOUT_MS = 1000;

/** What wakes from a backoff. */
export interface Waker {
  retryNow(): void;
}

/** Options of `probeUntilStopped`. */
export interface ProbeOptions {
  transport: ApiTransport;
  clock: Clock;
  /** Jitter source in [0, 1). */
  random: () => number;
  /** Ends the loop. */
  signal: AbortSignal;
  /** The list/watches waiting out a backoff now. */
  waiting: () => Waker[];
}

/** Probes while anything waits, waking the waiters on the first answer; returns once stopped. */
export async function probeUntilStopped(o: ProbeOptions): Promise<void> {
  while (!o.signal.aborted) {
    await o.clock.sleep(Math.round(PROBE_EVERY_MS * (0.5 + o.random())), o.signal);
    const waiting = o.waiting();
    if (o.signal.aborted || waiting.length === 0) continue;
    if (await probe(o)) { for (const w of waiting) w.retryNow(); }
  }
}

/** True when the API server answers GET /version (2xx) within PROBE_TIMEOUT_MS. */
async function probe(o: ProbeOptions): Promise<boolean> {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  o.signal.addEventListener("abort", stop, { once: true });
  const timer = setTimeout(stop, PROBE_TIMEOUT_MS);
  try {
    const res = await o.transport.get("/version", new URLSearchParams(), ctl.signal);
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener("abort", stop);
  }
}
