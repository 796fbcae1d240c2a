/**
 * Throwaway network namespaces for root-only tests. Every namespace a test
 * makes is named with the test's prefix and deleted in `cleanup()`, which the
 * test calls in `finally`, so a failing test leaves nothing behind. Nothing
 * here touches the machine's own (root) network namespace.
 * @module
 */

import { type ExecOptions, type ExecResult, RealExec } from "../../src/system/exec.ts";

/** Output of a finished process. */
export type RunResult = ExecResult;

/** Options of `run` (the product's own process runner options). */
export type RunOptions = ExecOptions;

/** Runs an argv (never a shell string) and collects its output. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new RealExec().run(argv, opts);
}

/** Runs an argv and throws with its stderr when it fails. */
export async function sh(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`Cannot run ${argv.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** True when running as root (integration tests are skipped otherwise). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** A set of namespaces sharing a prefix, removed together. */
export class NetnsSet {
  readonly prefix: string;
  readonly #names: string[] = [];

  /** `prefix` should be unique to the test file, e.g. "hgtA". */
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Creates `<prefix>-<name>` with loopback up; returns its full name. */
  async add(name: string): Promise<string> {
    const full = `${this.prefix}-${name}`;
    await run(["ip", "netns", "del", full]);
    await sh(["ip", "netns", "add", full]);
    this.#names.push(full);
    await sh(["ip", "-n", full, "link", "set", "lo", "up"]);
    return full;
  }

  /** Path of a namespace made here, for CNI_NETNS. */
  path(full: string): string {
    return `/run/netns/${full}`;
  }

  /** Runs argv inside namespace `full`. */
  exec(full: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", full, ...argv], opts);
  }

  /** Runs argv inside `full` and throws on failure. */
  sh(full: string, argv: string[], opts: RunOptions = {}): Promise<string> {
    return sh(["ip", "netns", "exec", full, ...argv], opts);
  }

  /** Deletes every namespace made here, plus stale ones with this prefix. */
  async cleanup(): Promise<void> {
    const list = await run(["ip", "netns", "list"]);
    const stale = list.stdout.split("\n").map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.startsWith(`${this.prefix}-`));
    for (const n of new Set([...this.#names, ...stale])) {
      await run(["ip", "netns", "del", n]);
    }
    this.#names.length = 0;
  }
}

/**
 * Runs `fn` with a fresh NetnsSet and always cleans up, also when `fn` throws.
 * Stale namespaces from an earlier crashed run with the same prefix go first.
 */
export async function withNetns<T>(prefix: string, fn: (ns: NetnsSet) => Promise<T>): Promise<T> {
  const ns = new NetnsSet(prefix);
  await ns.cleanup();
  try {
    return await fn(ns);
  } finally {
    await ns.cleanup();
  }
}
