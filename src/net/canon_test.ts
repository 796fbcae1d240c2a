import assert from "node:assert/strict";
import IPCIDR from "ip-cidr";
import {
  canonIp,
  cidrContainsIp,
  CidrSet,
  cidrsOverlap,
  gatewayCidr,
  isCidr,
  isIp,
  normalizeCidr,
  prefixLength,
} from "./mod.ts";

/** A seeded generator, so a failure is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomV4(r: () => number): string {
  return [0, 0, 0, 0].map(() => Math.floor(r() * 256)).join(".");
}

/** IPv6 text with runs of zeros, mixed case and leading zeros, as people write it. */
function randomV6(r: () => number): string {
  const groups = Array.from({ length: 8 }, () => r() < 0.4 ? 0 : Math.floor(r() * 65536));
  const text = groups.map((g) => {
    const h = g.toString(16);
    const padded = r() < 0.3 ? h.padStart(4, "0") : h;
    return r() < 0.3 ? padded.toUpperCase() : padded;
  });
  return text.join(":");
}

// The reference: what the agent computed with ip-cidr before its own parser (and now again).
const ref = {
  canonIp: (ip: string) => {
    const bare = ip.split("/")[0]!;
    return new IPCIDR(`${bare}/${bare.includes(":") ? 128 : 32}`).address.correctForm();
  },
  normalizeCidr: (c: string) => {
    const x = new IPCIDR(c);
    return `${x.address.startAddress().correctForm()}/${x.address.subnetMask}`;
  },
  contains: (c: string, ip: string) => new IPCIDR(ref.normalizeCidr(c)).contains(ref.canonIp(ip)),
};

Deno.test("cidr: canonical forms and containment equal ip-cidr's on random input", () => {
  const r = rng(7);
  for (let i = 0; i < 3000; i++) {
    const v6 = r() < 0.5;
    const ip = v6 ? randomV6(r) : randomV4(r);
    const len = Math.floor(r() * (v6 ? 129 : 33));
    const cidr = `${ip}/${len}`;
    const other = v6 ? randomV6(r) : randomV4(r);
    assert.equal(isIp(ip), true, ip);
    assert.equal(isCidr(cidr), true, cidr);
    assert.equal(canonIp(ip), ref.canonIp(ip), ip);
    assert.equal(normalizeCidr(cidr), ref.normalizeCidr(cidr), cidr);
    assert.equal(prefixLength(cidr), len);
    assert.equal(cidrContainsIp(cidr, other), ref.contains(cidr, other), `${cidr} ${other}`);
    assert.equal(cidrContainsIp(cidr, ip), true, cidr);
  }
});

Deno.test("cidr: invalid text is refused", () => {
  for (
    const bad of [
      "010.0.0.1",
      "10.0.0.01",
      "1.2.3",
      "256.1.1.1",
      " 10.0.0.1",
      "0x10.0.0.1",
      "+1.0.0.1",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      ":1::",
      "",
    ]
  ) {
    assert.equal(isIp(bad), false, bad);
    assert.throws(() => canonIp(bad), /Cannot parse an IP address/, bad);
  }
  for (
    const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/024", "fd00::/129", "10.0.0.0/8/8", "x/8"]
  ) {
    assert.equal(isCidr(bad), false, bad);
    assert.throws(() => normalizeCidr(bad), /Cannot parse CIDR/, bad);
  }
  assert.equal(isIp("10.0.0.1/32"), false);
  assert.equal(canonIp("10.0.0.1/32"), "10.0.0.1");
  assert.equal(canonIp("fe80::1%eth0"), "fe80::1");
  assert.equal(canonIp("::ffff:10.0.0.1"), "::ffff:a00:1");
});

Deno.test("cidr: gateway is the first address after the network", () => {
  assert.equal(gatewayCidr("10.244.1.7/24"), "10.244.1.1/24");
  assert.equal(gatewayCidr("fd00:10:244:1::5/64"), "fd00:10:244:1::1/64");
  assert.equal(gatewayCidr("10.0.0.255/31"), "10.0.0.255/31");
  assert.throws(() => gatewayCidr("10.1.2.3/32"), /has no address/);
});

Deno.test("cidr: CidrSet.overlaps agrees with pairwise cidrsOverlap", () => {
  const r = rng(11);
  for (let round = 0; round < 40; round++) {
    const set = new CidrSet();
    const members: string[] = [];
    for (let i = 0; i < 30; i++) {
      const v6 = r() < 0.3;
      // Few distinct prefixes over a small range, so overlaps are common.
      const base = v6 ? `fd00:0:0:${Math.floor(r() * 8)}::` : `10.0.${Math.floor(r() * 8)}.0`;
      const len = v6 ? [48, 62, 64][Math.floor(r() * 3)]! : [21, 23, 24, 25][Math.floor(r() * 4)]!;
      const c = `${base}/${len}`;
      const expected = members.some((m) => cidrsOverlap(m, c));
      assert.equal(set.overlaps(c), expected, `${c} against ${members.join(" ")}`);
      if (!expected || r() < 0.5) {
        set.add(c);
        members.push(c);
      }
    }
    assert.equal(set.size, members.length);
  }
});
