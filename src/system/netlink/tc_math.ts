/**
 * The numbers iproute2's `tc` derives for a TBF (tc/q_tbf.c, tc/tc_core.c of
 * iproute2 6.1, the one on the nodes), so a qdisc made in-process is the one
 * `tc qdisc add ... tbf rate R burst B latency L` makes: the rate in bytes
 * per second (`R bit` / 8, truncated), the queue limit in bytes from the
 * latency, the burst as a time in psched ticks, and back from ticks to bytes
 * the way `tc -j qdisc show` reports a burst. Handles print as tc prints
 * them. Pure.
 * @module
 */

/** tc's time unit: microseconds (TIME_UNITS_PER_SEC). */
export const TIME_UNITS_PER_SEC = 1_000_000;

/**
 * psched ticks per microsecond as tc_core_init derives it from
 * /proc/net/psched ("t2us us2t clock_res hz", hex). Every kernel since 2.6.31
 * prints 000003e8 00000040 000f4240 (PSCHED_SHIFT 6): 1000 / 64 = 15.625.
 */
export const DEFAULT_TICK_IN_USEC = 15.625;

/** tick_in_usec from the text of /proc/net/psched; undefined when unreadable. */
export function tickInUsec(psched: string): number | undefined {
  const f = psched.trim().split(/\s+/).map((h) => parseInt(h, 16));
  if (f.length < 3 || f.slice(0, 3).some((v) => !Number.isFinite(v) || v <= 0)) {
    return undefined;
  }
  let [t2us, us2t, clockRes] = f as [number, number, number];
  // iproute2's compatibility hack: a nanosecond clock advertises 1000 meaning 1.
  if (clockRes === 1_000_000_000) t2us = us2t;
  const clockFactor = clockRes / TIME_UNITS_PER_SEC;
  return (t2us / us2t) * clockFactor;
}

const U32_MAX = 0xffff_ffff;

/** C's conversion of a non-negative double to `unsigned int` (truncation; clamped, not UB). */
function u32(v: number): number {
  if (!(v > 0)) return 0;
  return v >= U32_MAX ? U32_MAX : Math.trunc(v);
}

/** tc_calc_xmittime: psched ticks to send `size` bytes at `rate` bytes/s. */
export function xmitTime(rate: number, size: number, tick = DEFAULT_TICK_IN_USEC): number {
  // tc_core_time2tick(unsigned time): the microseconds truncate, then the ticks.
  return u32(u32(TIME_UNITS_PER_SEC * (size / rate)) * tick);
}

/** tc_calc_xmitsize: bytes sent at `rate` bytes/s in `ticks` (how tc shows a burst). */
export function xmitSize(rate: number, ticks: number, tick = DEFAULT_TICK_IN_USEC): number {
  const usecs = u32(ticks / tick);
  return u32((rate * usecs) / TIME_UNITS_PER_SEC);
}

/** What `tc ... tbf rate R burst B latency L` puts into struct tc_tbf_qopt. */
export interface TbfParams {
  /** Bytes per second (64-bit; above 2^32-1 it also goes as TCA_TBF_RATE64). */
  rate: number;
  /** Bytes (TCA_TBF_BURST). */
  burst: number;
  /** Queue length in bytes. */
  limit: number;
  /** The burst as psched ticks at `rate`. */
  buffer: number;
}

/**
 * TBF parameters of a rate in bit/s, a burst in bytes and a latency in
 * microseconds, exactly as tc computes them. Throws a RangeError for a rate
 * under 8 bit/s (tc: "the rate parameter is mandatory") or a burst that is
 * not 1..2^32-1 bytes.
 */
export function tbfParams(
  opts: { rateBits: number; burst: number; latencyUs: number; tick?: number },
): TbfParams {
  const rate = Math.floor(opts.rateBits / 8);
  if (!Number.isSafeInteger(rate) || rate <= 0) {
    throw new RangeError(`rate ${opts.rateBits} bit/s is below 8 bit/s`);
  }
  if (!Number.isInteger(opts.burst) || opts.burst <= 0 || opts.burst > U32_MAX) {
    throw new RangeError(`burst ${opts.burst} bytes is not within 1..${U32_MAX}`);
  }
  const tick = opts.tick ?? DEFAULT_TICK_IN_USEC;
  const limit = u32((rate * opts.latencyUs) / TIME_UNITS_PER_SEC + opts.burst);
  return { rate, burst: opts.burst, limit, buffer: xmitTime(rate, opts.burst, tick) };
}

/** TC_H_ROOT: the parent of a device's root qdisc. */
export const TC_H_ROOT = 0xffff_ffff;
/** TC_H_INGRESS: the parent of the ingress qdisc. */
export const TC_H_INGRESS = 0xffff_fff1;

/** A qdisc's own handle as `tc qdisc show` prints it: the major only ("1:", "0:"). */
export function qdiscHandle(h: number): string {
  return `${(h >>> 16).toString(16)}:`;
}

/** A parent or class id as tc prints it: "1:", "ffff:fff1", "root", "none". */
export function formatHandle(h: number): string {
  h >>>= 0;
  if (h === TC_H_ROOT) return "root";
  if (h === 0) return "none";
  const maj = h >>> 16, min = h & 0xffff;
  if (min === 0) return `${maj.toString(16)}:`;
  if (maj === 0) return `:${min.toString(16)}`;
  return `${maj.toString(16)}:${min.toString(16)}`;
}
