/**
 * Directory watches driven by the test (the `OpenWatch` seam of the agent's
 * owned-file triggers): push events, end a watch, or make opening fail.
 * @module
 */
import type { FileWatch } from "../reconcile/mod.ts";

type Push = (ev: { paths: string[] } | undefined) => void;

/** Watches driven by the test: push events, end a watch, or refuse to open (`missing`). */
export class FakeWatches {
  /** Opening any watch fails while true (the directory does not exist). */
  missing = false;
  /** Watches opened so far. */
  opened = 0;
  readonly #push = new Map<string, Push>();

  /** The `OpenWatch` to hand to the code under test. */
  open = (dir: string): FileWatch => {
    if (this.missing) throw new Error(`Cannot watch ${dir}: no such directory`);
    this.opened++;
    const queue: ({ paths: string[] } | undefined)[] = [];
    let wake: (() => void) | undefined;
    const push: Push = (ev) => {
      queue.push(ev);
      wake?.();
    };
    this.#push.set(dir, push);
    return {
      close: () => push(undefined),
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (queue.length === 0) await new Promise<void>((r) => (wake = r));
          const ev = queue.shift();
          if (ev === undefined) return;
          yield ev;
        }
      },
    };
  };

  /** An event naming `paths` on the watch of `dir`. */
  event(dir: string, ...paths: string[]): void {
    this.#push.get(dir)?.({ paths });
  }

  /** Ends the watch of `dir`, as when the directory is removed. */
  end(dir: string): void {
    this.#push.get(dir)?.(undefined);
  }
}
