/**
 * tc's TBF arithmetic: the numbers `tc qdisc add ... tbf rate 20000000bit
 * burst 50000 latency 25ms` put into the kernel (read back with `tc -d -raw`:
 * limit 112500, burst_raw 4c4b4) and the burst `tc -j` shows from them.
 * @module
 */
import assert from "node:assert/strict";
import {
  DEFAULT_TICK_IN_USEC,
  formatHandle,
  qdiscHandle,
  tbfParams,
  tickInUsec,
  xmitSize,
  xmitTime,
} from "./tc_math.ts";

Deno.test("tickInUsec: /proc/net/psched as tc_core_init reads it", () => {
  assert.equal(tickInUsec("000003e8 00000040 000f4240 3b9aca00\n"), 15.625);
  assert.equal(tickInUsec("000003e8 00000040 000f4240 3b9aca00"), DEFAULT_TICK_IN_USEC);
  // A nanosecond clock advertising 1000 means 1 (iproute2's compatibility hack).
  assert.equal(tickInUsec("000003e8 00000001 3b9aca00 3b9aca00"), 1000);
  assert.equal(tickInUsec("00000001 00000001 000f4240"), 1);
  for (const bad of ["", "zz", "000003e8 00000000 000f4240", "1 2"]) {
    assert.equal(tickInUsec(bad), undefined, bad);
  }
});

Deno.test("tbfParams: rate in bytes, limit from latency, buffer in ticks, as tc makes them", () => {
  assert.deepEqual(tbfParams({ rateBits: 20_000_000, burst: 50_000, latencyUs: 25_000 }), {
    rate: 2_500_000,
    burst: 50_000,
    limit: 112_500,
    buffer: 0x4c4b4,
  });
  // Bits that are no whole byte truncate, like tc's get_rate64; the limit too.
  assert.deepEqual(tbfParams({ rateBits: 1_000_003, burst: 12_345, latencyUs: 25_000 }), {
    rate: 125_000,
    burst: 12_345,
    limit: 15_470,
    buffer: xmitTime(125_000, 12_345),
  });
  // Above 2^32 bytes/s the rate stays whole (TCA_TBF_RATE64 carries it).
  const fast = tbfParams({ rateBits: 40_000_000_000, burst: 5_000_000, latencyUs: 25_000 });
  assert.deepEqual([fast.rate, fast.limit], [5_000_000_000, 130_000_000]);
  // A queue past 32 bits is the largest the kernel holds.
  const huge = tbfParams({ rateBits: 80e12, burst: 4_000_000_000, latencyUs: 25_000 });
  assert.equal(huge.limit, 0xffff_ffff);
  assert.throws(() => tbfParams({ rateBits: 7, burst: 1, latencyUs: 1 }), /below 8 bit\/s/);
  assert.throws(() => tbfParams({ rateBits: 8, burst: 0, latencyUs: 1 }), /burst 0 bytes/);
  assert.throws(() => tbfParams({ rateBits: 8, burst: 2 ** 32, latencyUs: 1 }), RangeError);
  assert.throws(() => tbfParams({ rateBits: 8, burst: 1.5, latencyUs: 1 }), RangeError);
});

Deno.test("xmitTime and xmitSize: microseconds truncate before ticks; bytes back as tc shows them", () => {
  assert.equal(xmitTime(2_500_000, 50_000), 312_500);
  // 1e6 * 1600 / 1000 = 1600000 us -> 25000000 ticks.
  assert.equal(xmitTime(1000, 1600), 25_000_000);
  // 1e6 * 12345 / 125000 = 98760 us exactly; 98760 * 15.625 = 1543125.
  assert.equal(xmitTime(125_000, 12_345), 1_543_125);
  // 1e6 * 100 / 3 = 33333333.3 us -> 33333333 -> 520833328.1 ticks -> 520833328.
  assert.equal(xmitTime(3, 100), 520_833_328);
  assert.equal(xmitTime(1, 2 ** 32 - 1), 0xffff_ffff, "clamped, not wrapped");
  assert.equal(xmitSize(2_500_000, 312_500), 50_000);
  // The kernel rounds the burst to whole ticks: tc shows what it kept.
  assert.equal(xmitSize(125_000, 1_543_124), 12_344);
  assert.equal(xmitSize(5_000_000_000, 15_625), 5_000_000);
  assert.equal(xmitTime(2_500_000, 50_000, 1), 20_000);
});

Deno.test("handles as tc prints them", () => {
  assert.equal(qdiscHandle(0x1_0000), "1:");
  assert.equal(qdiscHandle(0xffff_0000), "ffff:");
  assert.equal(qdiscHandle(0), "0:");
  assert.equal(formatHandle(0xffff_fff1), "ffff:fff1");
  assert.equal(formatHandle(0xffff_ffff), "root");
  assert.equal(formatHandle(0), "none");
  assert.equal(formatHandle(0x1_0000), "1:");
  assert.equal(formatHandle(0x5), ":5");
  assert.equal(formatHandle(0x1_0002), "1:2");
});
