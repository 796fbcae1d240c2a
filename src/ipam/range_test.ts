import assert from "node:assert/strict";
import { bigIntToIp, ipToBigInt, parseIpRange } from "../net/mod.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { candidates, describeRangeSet, exclusions, freeCount, rangeForIp } from "./range.ts";

function cfg(ipam: Record<string, unknown>): LocalIpamConfig {
  return parseIpamConfig({ type: "hostgate-local", ...ipam }) as LocalIpamConfig;
}

function walk(c: LocalIpamConfig, after?: string, limit = 1000): string[] {
  const set = c.rangeSets[0]!;
  const ex = exclusions(c.rangeSets, c.reservedRanges, set.family);
  const out: string[] = [];
  for (const v of candidates(set, ex, after === undefined ? undefined : ipToBigInt(after))) {
    out.push(bigIntToIp(set.family, v));
    if (out.length >= limit) break;
  }
  return out;
}

Deno.test("candidates skip gateway, network and broadcast", () => {
  const c = cfg({ ranges: [[{ subnet: "10.0.0.0/29" }]] });
  assert.deepEqual(walk(c), ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]);
  const wide = cfg({
    ranges: [[{
      subnet: "10.0.0.0/29",
      rangeStart: "10.0.0.0",
      rangeEnd: "10.0.0.7",
      gateway: "10.0.0.6",
    }]],
  });
  assert.deepEqual(walk(wide), ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]);
});

Deno.test("round-robin starts after the last reserved address and wraps around to it", () => {
  const c = cfg({ ranges: [[{ subnet: "10.0.0.0/29" }]] });
  assert.deepEqual(walk(c, "10.0.0.4"), [
    "10.0.0.5",
    "10.0.0.6",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
  ]);
  assert.deepEqual(walk(c, "10.0.0.6"), [
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
    "10.0.0.5",
    "10.0.0.6",
  ]);
  // A cursor outside the ranges (config changed) starts from the beginning.
  assert.deepEqual(walk(c, "10.9.9.9"), walk(c, "10.0.0.6"));
});

Deno.test("multi-range sets continue in the next range", () => {
  const c = cfg({
    ranges: [[
      { subnet: "10.0.0.0/29" },
      { subnet: "10.0.1.0/29", rangeStart: "10.0.1.4" },
    ]],
  });
  assert.deepEqual(walk(c, "10.0.0.5"), [
    "10.0.0.6",
    "10.0.1.4",
    "10.0.1.5",
    "10.0.1.6",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.4",
    "10.0.0.5",
  ]);
});

Deno.test("reservedRanges are jumped over, even huge ones in a /64", () => {
  const c = cfg({
    ranges: [[{ subnet: "10.0.0.0/28" }]],
    reservedRanges: ["10.0.0.3-10.0.0.10", "10.0.0.12"],
  });
  assert.deepEqual(walk(c), ["10.0.0.2", "10.0.0.11", "10.0.0.13", "10.0.0.14"]);
  const v6 = cfg({
    ranges: [[{ subnet: "fd00::/64" }]],
    reservedRanges: ["fd00::2-fd00::ffff:ffff:ffff:fff0"],
  });
  // 2^64 reserved addresses: a walk that stepped through them would never return.
  assert.deepEqual(walk(v6, undefined, 4), [
    "fd00::ffff:ffff:ffff:fff1",
    "fd00::ffff:ffff:ffff:fff2",
    "fd00::ffff:ffff:ffff:fff3",
    "fd00::ffff:ffff:ffff:fff4",
  ]);
});

Deno.test("freeCount subtracts exclusions and reservations by interval", () => {
  const c = cfg({
    ranges: [[{ subnet: "10.0.0.0/24" }]],
    reservedRanges: ["10.0.0.0/28", "10.0.0.100"],
  });
  const set = c.rangeSets[0]!;
  const ex = exclusions(c.rangeSets, c.reservedRanges, 4);
  // .1-.254 = 254; minus .0-.15 overlap (.1-.15 = 15) minus .100 = 238
  assert.equal(freeCount(set, ex, new Set()), 238n);
  const taken = new Set([
    ipToBigInt("10.0.0.20"),
    ipToBigInt("10.0.0.100"),
    ipToBigInt("10.0.0.5"),
    ipToBigInt("10.0.1.1"),
  ]);
  assert.equal(
    freeCount(set, ex, taken),
    237n,
    "only .20 counts: .100 and .5 are excluded, 10.0.1.1 outside",
  );
  const v6 = cfg({ ranges: [[{ subnet: "fd00::/64" }]] });
  assert.equal(
    freeCount(v6.rangeSets[0]!, exclusions(v6.rangeSets, [], 6), new Set()),
    (1n << 64n) - 3n,
  );
});

Deno.test("rangeForIp and describeRangeSet", () => {
  const c = cfg({
    ranges: [[{ subnet: "10.0.0.0/24", rangeStart: "10.0.0.10", rangeEnd: "10.0.0.20" }]],
  });
  const set = c.rangeSets[0]!;
  assert.ok(rangeForIp(set, "10.0.0.10"));
  assert.equal(rangeForIp(set, "10.0.0.9"), undefined);
  assert.equal(rangeForIp(set, "fd00::1"), undefined);
  assert.equal(describeRangeSet(set), "10.0.0.0/24 (10.0.0.10-10.0.0.20)");
  assert.equal(parseIpRange("10.0.0.1").start, "10.0.0.1");
});
