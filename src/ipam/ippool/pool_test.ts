import assert from "node:assert/strict";
import { CniError } from "../../errors.ts";
import { bigIntToIp } from "../../net/mod.ts";
import { parsePool, parseRangeText, poolFamilies, subFor, subtract } from "./pool.ts";

const pool = (spec: unknown, name = "p") => parsePool({ metadata: { name }, spec });

function freeIps(p: ReturnType<typeof pool>): string[] {
  return p.subs.flatMap((s) => {
    const out: string[] = [];
    for (const i of s.free) {
      for (let v = i.start; v <= i.end; v++) out.push(bigIntToIp(s.family, v));
    }
    return out;
  });
}

Deno.test("the seed's shape: range first-last/prefix, reservedRanges, netmaskBits, gateway", () => {
  const p = pool({
    ipPoolSubs: [{
      range: "10.19.120.0-10.19.123.254/22",
      reservedRanges: ["10.19.122.230-10.19.122.255/22"],
      netmaskBits: 22,
      gateway: "10.19.123.254",
    }],
  }, "ippool");
  const s = p.subs[0]!;
  assert.equal(s.subnet, "10.19.120.0/22");
  assert.equal(s.prefix, 22);
  assert.equal(s.gateway, "10.19.123.254");
  // 1023 addresses in the range; minus network .120.0, reserved 26, gateway (the range end).
  assert.equal(s.size, 1023n - 1n - 26n - 1n);
  for (const ip of ["10.19.120.0", "10.19.122.230", "10.19.122.255", "10.19.123.254"]) {
    assert.equal(subFor(p, ip), undefined, ip);
  }
  for (const ip of ["10.19.120.1", "10.19.122.229", "10.19.123.0", "10.19.123.253"]) {
    assert.equal(subFor(p, ip), s, ip);
  }
});

Deno.test("plain CIDR form: network, broadcast and the default gateway (.1) never free", () => {
  const p = pool({ cidr: "10.30.0.0/29", reservedRanges: ["10.30.0.5"] });
  assert.deepEqual(freeIps(p), ["10.30.0.2", "10.30.0.3", "10.30.0.4", "10.30.0.6"]);
  assert.equal(p.subs[0]!.gateway, "10.30.0.1");
  const g = pool({ cidr: "10.30.0.0/29", gateway: "10.30.0.6" });
  assert.deepEqual(freeIps(g), ["10.30.0.1", "10.30.0.2", "10.30.0.3", "10.30.0.4", "10.30.0.5"]);
});

Deno.test("dual-stack pool: one sub per family, IPv4 first", () => {
  const p = pool({
    ipPoolSubs: [
      { range: "fd00:5::10-fd00:5::1f/64" },
      { range: "10.5.0.10-10.5.0.20", netmaskBits: 24 },
    ],
  });
  assert.deepEqual(poolFamilies(p), [4, 6]);
  assert.equal(p.subs[0]!.gateway, "fd00:5::1");
  assert.equal(p.subs[0]!.size, 16n);
  assert.equal(p.subs[1]!.size, 11n);
});

Deno.test("range text forms", () => {
  assert.deepEqual(parseRangeText("10.0.0.1-10.0.0.9/24"), {
    family: 4,
    start: 0x0a000001n,
    end: 0x0a000009n,
    prefix: 24,
  });
  assert.equal(parseRangeText("10.0.0.0/30")?.end, 0x0a000003n);
  assert.equal(parseRangeText("10.0.0.7")?.start, 0x0a000007n);
  for (const bad of ["10.0.0.9-10.0.0.1", "10.0.0.1-fd00::1", "x-y", "10.0.0.1-10.0.0.2/33", ""]) {
    assert.equal(parseRangeText(bad), undefined, bad);
  }
});

Deno.test("subtract: a range minus merged exclusions", () => {
  const r = (a: bigint, b: bigint) => ({
    family: 4 as const,
    start: "",
    end: "",
    startValue: a,
    endValue: b,
  });
  assert.deepEqual(subtract({ start: 1n, end: 10n }, [r(0n, 1n), r(4n, 5n), r(10n, 12n)]), [
    { start: 2n, end: 3n },
    { start: 6n, end: 9n },
  ]);
  assert.deepEqual(subtract({ start: 1n, end: 3n }, [r(0n, 5n)]), []);
});

Deno.test("invalid pools are code 7 naming the pool and the key", () => {
  const cases: [unknown, RegExp][] = [
    [undefined, /spec must be an object/],
    [{}, /exactly one of cidr and ipPoolSubs/],
    [{ cidr: "10.0.0.0/24", ipPoolSubs: [] }, /exactly one/],
    [{ cidr: "10.0.0.0" }, /spec.cidr must be a CIDR/],
    [{ ipPoolSubs: [] }, /ipPoolSubs must be a non-empty array/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.0.5" }] }, /netmaskBits is required/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.0.5/24", netmaskBits: 23 }] }, /differs/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.1.5/24" }] }, /does not fit in one \/24/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.0.5/24", gateway: "10.1.0.1" }] }, /gateway/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.0.5/24", gateway: "10.0.0.255" }] }, /broadcast/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.0.5/24", reservedRanges: ["nope"] }] }, /\[0\]/],
    [{ ipPoolSubs: [{ range: "10.0.0.1-10.0.0.5/24", reservedRanges: ["fd00::1"] }] }, /family/],
    [{ ipPoolSubs: [{ range: "10.0.0.2-10.0.0.5/31" }] }, /within 1..30/],
    [
      { ipPoolSubs: [{ range: "10.0.0.2-10.0.0.50/24" }, { range: "10.0.0.40-10.0.0.90/24" }] },
      /ipPoolSubs\[1\].range overlaps ipPoolSubs\[0\]/,
    ],
  ];
  for (const [spec, re] of cases) {
    assert.throws(
      () => pool(spec, "bad"),
      (e: unknown) =>
        e instanceof CniError && e.code === 7 && /^Cannot use IPPool bad: /.test(e.message) &&
        re.test(e.message),
      JSON.stringify(spec),
    );
  }
});
