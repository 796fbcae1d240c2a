/**
 * The allocator's decisions, pure: which free address to try next, and in
 * which order held addresses are considered for reclaim. The API round trips
 * live in ipam.ts; everything here is a function of its inputs and an
 * injected random source, so the unit tests replay any sequence.
 * @module
 */
import { bigIntToIp, type Family } from "../../net/mod.ts";
import type { Interval, PoolSub } from "./pool.ts";

/** A uniform random integer in [0, n) (n > 0). */
export type RandomBelow = (n: bigint) => bigint;

/** 32-bit words drawn beyond `n`'s width: 64 extra bits make the modulo bias negligible. */
const EXTRA_RANDOM_WORDS = 2;
/** Random draws before the ordered scan when `tries` is not given. */
const DEFAULT_TRIES = 32;

/** crypto-strength `RandomBelow`: 64 extra random bits make the modulo bias negligible. */
export function cryptoRandomBelow(n: bigint): bigint {
  const words = Math.ceil(n.toString(2).length / 32) + EXTRA_RANDOM_WORDS;
  const buf = crypto.getRandomValues(new Uint32Array(words));
  let v = 0n;
  for (const w of buf) v = (v << 32n) | BigInt(w);
  return v % n;
}

/** The `k`-th address (0-based) of sorted intervals; undefined past their end. */
export function nthFree(intervals: readonly Interval[], k: bigint): bigint | undefined {
  let rest = k;
  for (const i of intervals) {
    const size = i.end - i.start + 1n;
    if (rest < size) return i.start + rest;
    rest -= size;
  }
  return undefined;
}

function inside(intervals: readonly Interval[], v: bigint): boolean {
  return intervals.some((i) => v >= i.start && v <= i.end);
}

/** Options of `pickFree`. */
export interface PickOptions {
  /** The pool's subs of one family. */
  subs: readonly PoolSub[];
  family: Family;
  /** Addresses known to be taken (any value; those outside the pool are ignored). */
  taken: ReadonlySet<bigint>;
  random: RandomBelow;
  /** Random draws before the ordered scan; default 32. */
  tries?: number;
}

/**
 * A uniformly random address of the subs that is not taken, or undefined when
 * every one is. Random draws first (cheap on a sparse pool, and concurrent
 * nodes rarely collide); then an ordered scan from a random start, which
 * steps over at most as many addresses as are taken.
 */
export function pickFree(opts: PickOptions): string | undefined {
  const intervals = opts.subs.filter((s) => s.family === opts.family).flatMap((s) => s.free);
  const total = intervals.reduce((n, i) => n + i.end - i.start + 1n, 0n);
  if (total === 0n) return undefined;
  let takenInside = 0n;
  for (const v of opts.taken) if (inside(intervals, v)) takenInside++;
  if (takenInside >= total) return undefined;
  const tries = opts.tries ?? DEFAULT_TRIES;
  let k = 0n;
  for (let t = 0; t < tries; t++) {
    k = opts.random(total);
    const v = nthFree(intervals, k)!;
    if (!opts.taken.has(v)) return bigIntToIp(opts.family, v);
  }
  for (let step = 0n; step <= takenInside; step++) {
    const v = nthFree(intervals, (k + step) % total)!;
    if (!opts.taken.has(v)) return bigIntToIp(opts.family, v);
  }
  return undefined; // unreachable: fewer taken than free
}

/** What reclaim needs to know of a held address. */
export interface ReclaimCandidate {
  /** "Released" by DEL/GC: free for anyone, remembered only for its pod's sticky IP. */
  state: "Allocated" | "Released";
  /** A held address can be reclaimed only when its pod is known. */
  podNamespace?: string;
  podName?: string;
}

function shuffled<T>(items: readonly T[], random: RandomBelow): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Number(random(BigInt(i + 1)));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The order in which a full pool is searched for an address to take back:
 * released ones first (no pod lookup needed), then held ones whose pod is
 * known (the caller checks the pod is gone or finished). Each group is
 * shuffled so concurrent nodes do not all race for the same address.
 * Held addresses without a pod are never candidates: nothing can prove them dead.
 */
export function reclaimOrder<T extends ReclaimCandidate>(
  candidates: readonly T[],
  random: RandomBelow,
): T[] {
  return [
    ...shuffled(candidates.filter((c) => c.state === "Released"), random),
    ...shuffled(
      candidates.filter((c) => c.state === "Allocated" && c.podName && c.podNamespace),
      random,
    ),
  ];
}

/** Pod phases after which a pod never runs again: its address may be reclaimed. */
export const FINISHED_PHASES: readonly string[] = ["Succeeded", "Failed"];

/**
 * Whether an address held by a pod may be taken: the pod no longer exists
 * (`phase` undefined) or has finished. Pending, Running and Unknown keep it.
 */
export function podReleasesAddress(phase: string | undefined): boolean {
  return phase === undefined || FINISHED_PHASES.includes(phase);
}
