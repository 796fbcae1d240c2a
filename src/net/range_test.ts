import assert from "node:assert/strict";
import {
  formatIpRange,
  ipRange,
  iterateRange,
  mergeRanges,
  parseIpRange,
  rangeContains,
  rangeSize,
  rangesOverlap,
} from "./range.ts";
import { AddressError } from "./address.ts";

Deno.test("parseIpRange accepts first-last, CIDR and a single address", () => {
  const a = parseIpRange("10.0.0.10-10.0.0.20");
  assert.equal(a.start, "10.0.0.10");
  assert.equal(a.end, "10.0.0.20");
  assert.equal(rangeSize(a), 11n);
  const b = parseIpRange("10.0.0.16/28");
  assert.equal(formatIpRange(b), "10.0.0.16-10.0.0.31");
  const c = parseIpRange("fd00::5");
  assert.equal(formatIpRange(c), "fd00::5");
  assert.equal(formatIpRange(parseIpRange("fd00::1 - fd00::a")), "fd00::1-fd00::a");
});

Deno.test("parseIpRange refuses reversed, mixed and malformed ranges", () => {
  for (
    const bad of ["10.0.0.20-10.0.0.10", "10.0.0.1-fd00::1", "10.0.0.1-", "x", "10.0.0.0/33", ""]
  ) {
    assert.throws(() => parseIpRange(bad), AddressError, bad);
  }
  assert.throws(() => ipRange("10.0.0.2", "10.0.0.1"), /start is after end/);
});

Deno.test("contains, overlap and merge", () => {
  const r = ipRange("10.0.0.10", "10.0.0.20");
  assert.ok(rangeContains(r, "10.0.0.10"));
  assert.ok(rangeContains(r, "10.0.0.20"));
  assert.ok(!rangeContains(r, "10.0.0.21"));
  assert.ok(!rangeContains(r, "fd00::1"));
  assert.ok(rangesOverlap(r, ipRange("10.0.0.20", "10.0.0.30")));
  assert.ok(!rangesOverlap(r, ipRange("10.0.0.21", "10.0.0.30")));
  const merged = mergeRanges([
    ipRange("10.0.0.21", "10.0.0.30"),
    ipRange("fd00::1", "fd00::2"),
    r,
    ipRange("10.0.0.12", "10.0.0.14"),
    ipRange("10.0.0.40", "10.0.0.41"),
  ]);
  assert.deepEqual(merged.map(formatIpRange), [
    "10.0.0.10-10.0.0.30",
    "10.0.0.40-10.0.0.41",
    "fd00::1-fd00::2",
  ]);
});

Deno.test("iterateRange is lazy and can start in the middle", () => {
  assert.deepEqual([...iterateRange(ipRange("10.0.0.254", "10.0.1.1"))], [
    "10.0.0.254",
    "10.0.0.255",
    "10.0.1.0",
    "10.0.1.1",
  ]);
  assert.deepEqual([...iterateRange(ipRange("fd00::1", "fd00::3"), { from: "fd00::2" })], [
    "fd00::2",
    "fd00::3",
  ]);
  const huge = parseIpRange("fd00::/64");
  const first: string[] = [];
  for (const ip of iterateRange(huge)) {
    first.push(ip);
    if (first.length === 3) break;
  }
  assert.deepEqual(first, ["fd00::", "fd00::1", "fd00::2"]);
});
