/**
 * The one way integration tests (and the few `*_os_test.ts` unit tests that
 * wait on the kernel) wait for the world to change: poll a probe on the real
 * clock until it yields a value, never a blind sleep. Unit tests on fakes use
 * `until` of src/system/fake_clock.ts instead, which never waits on real time.
 * @module
 */

/** Options of `until`. */
export interface UntilOptions {
  /** Gives up after this long (default 10 s). */
  ms?: number;
  /** Pause between probes (default 50 ms). */
  everyMs?: number;
}

/**
 * Polls `probe` (sync or async) until it returns something other than
 * undefined or false, and returns that; a probe that throws counts as not yet.
 * Throws `Cannot see <what> within <ms> ms: <last result or error>` when the
 * time is up. `opts` may be the timeout alone.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: UntilOptions | number = {},
): Promise<T> {
  const o = typeof opts === "number" ? { ms: opts } : opts;
  const ms = o.ms ?? 10_000;
  const end = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e instanceof Error ? e.message : e;
    }
    if (performance.now() >= end) break;
    await new Promise((r) => setTimeout(r, o.everyMs ?? 50));
  }
  throw new Error(`Cannot see ${what} within ${ms} ms${last ? `: ${last}` : ""}`);
}
