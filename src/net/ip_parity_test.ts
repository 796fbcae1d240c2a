/**
 * The own address parsers (ipv4.ts, ipv6.ts, behind tryParseIp, tryParseCidr
 * and addressOf) against the ip-cidr based ones they replaced
 * (ip_cidr_reference.ts), over tens of thousands of random, structured and
 * adversarial texts: both must accept exactly the same texts with the same
 * family, value, prefix and canonical text.
 *
 * One deliberate difference, asserted rather than hidden: the old `addressOf`
 * let ip-address read text with a second "/" ("::1/abc/64" was "::1", the
 * library dropping the last "/64" and reading "1/abc" as the group 1). The
 * new one refuses any text with more than one "/".
 */
import assert from "node:assert/strict";
import { addressOf, normalizeIp, tryParseIp } from "./address.ts";
import { tryParseCidr } from "./cidr.ts";
import {
  ownFormatV6,
  refAddressOf,
  refFormatV6,
  refTryParseCidr,
  refTryParseIp,
} from "./ip_cidr_reference.ts";

/** xorshift32: deterministic, so a failure reproduces. */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

type Rand = (n: number) => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[r(xs.length)]!;

const OCTETS = ["0", "1", "9", "10", "00", "01", "001", "010", "99", "100", "199", "200", "249"];
const OCTETS_MORE = [
  "250",
  "255",
  "256",
  "299",
  "300",
  "999",
  "1000",
  "",
  "-1",
  "+1",
  "1e1",
  "0x1",
];
const GROUPS = ["0", "1", "a", "F", "fd00", "FFFF", "0000", "00001", "10000", "ffff0", "g", ""];
const PREFIXES = [
  "0",
  "00",
  "000",
  "1",
  "01",
  "08",
  "8",
  "24",
  "32",
  "032",
  "33",
  "64",
  "064",
  "96",
  "128",
  "0128",
  "129",
  "200",
  "999",
  "1000",
  "",
  "-1",
  "+8",
  " 8",
  "8 ",
  "abc",
  "64/64",
  "abc/64",
  "64%eth0",
  "1e1",
  "٣",
];
const JUNK = [
  ":",
  "::",
  ":::",
  ".",
  "..",
  "/",
  "%",
  "%eth0",
  " ",
  "\n",
  "\t",
  "[",
  "]",
  "x",
  "\u0000",
];

function octet(r: Rand): string {
  return r(4) === 0 ? pick(r, OCTETS_MORE) : r(2) === 0 ? pick(r, OCTETS) : `${r(256)}`;
}

function quad(r: Rand): string {
  const n = r(8) === 0 ? 3 + r(3) : 4;
  return Array.from({ length: n }, () => octet(r)).join(".");
}

function group(r: Rand): string {
  if (r(4) === 0) return pick(r, GROUPS);
  const v = r(3) === 0 ? 0 : r(0x10000);
  const t = v.toString(16).padStart(r(2) === 0 ? 1 : 1 + r(4), "0");
  return r(3) === 0 ? t.toUpperCase() : t;
}

/** IPv6-like text: 5..10 groups, maybe a "::" (or two), maybe a dotted quad at the end. */
function v6(r: Rand): string {
  const n = 1 + r(9);
  const gs = Array.from({ length: n }, () => group(r));
  if (r(3) === 0) gs[gs.length - 1] = quad(r);
  let s = gs.join(":");
  const compress = r(4);
  for (let k = 0; k < (compress === 3 ? 2 : compress); k++) {
    const at = r(s.length + 1);
    s = s.slice(0, at) + (r(6) === 0 ? ":" : "::") + s.slice(at);
  }
  return s;
}

/** A valid address, then one small corruption (or none). */
function mutated(r: Rand): string {
  let s = r(2) === 0 ? `${r(256)}.${r(256)}.${r(256)}.${r(256)}` : validV6(r);
  const ops = r(3);
  for (let k = 0; k < ops; k++) {
    const at = r(s.length + 1);
    const op = r(3);
    const ch = pick(r, [...JUNK, "0", "f", "G", "1", ".", ":"]);
    if (op === 0) s = s.slice(0, at) + ch + s.slice(at);
    else if (op === 1) s = s.slice(0, at) + s.slice(at + 1);
    else s = s.slice(0, at) + ch + s.slice(at + 1);
  }
  return s;
}

function validV6(r: Rand): string {
  const g = Array.from({ length: 8 }, () => (r(2) === 0 ? 0 : r(0x10000)).toString(16));
  const s = g.join(":");
  return r(2) === 0 ? normalizeIp(s) : s;
}

/** Random concatenation of tokens: the hostile end. */
function tokens(r: Rand): string {
  const parts = [...JUNK, ...GROUPS, ...OCTETS, "1.2.3.4", "::ffff:", "fe80::", "/24", "/128"];
  return Array.from({ length: 1 + r(8) }, () => pick(r, parts)).join("");
}

function address(r: Rand): string {
  switch (r(5)) {
    case 0:
      return quad(r);
    case 1:
    case 2:
      return v6(r);
    case 3:
      return mutated(r);
    default:
      return tokens(r);
  }
}

function withPrefix(r: Rand): string {
  if (r(3) === 0) {
    // A plausible block: a valid address and a prefix in or just past its range.
    const v4 = r(2) === 0;
    const a = v4 ? `${r(256)}.${r(256)}.${r(256)}.${r(256)}` : validV6(r);
    return `${a}/${r(v4 ? 36 : 132)}`;
  }
  const a = address(r);
  return r(5) === 0 ? a : `${a}/${pick(r, PREFIXES)}`;
}

const FIXED = [
  "",
  ":",
  "::",
  ":::",
  "::1",
  "1::",
  "1::1",
  ":1::",
  "::1:",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1:2:3:4::5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1::2::3",
  "::ffff:1.2.3.4",
  "::1.2.3.4",
  ":1.2.3.4",
  "1.2.3.4::",
  "::1.2.3.04",
  "::1.2.3.256",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1:2:3:4:5:1.2.3.4",
  "::ffff:1.2.3.4/96",
  "fe80::1%eth0",
  "fe80::1%",
  "fe80::1%eth0/64",
  "fe80::1/64%eth0",
  "::1/64/64",
  "::1/abc/64",
  "::1/128",
  "::1/0128",
  "::1/129",
  "10.0.0.1/08",
  "10.0.0.1/8/8",
  "10.0.0.1/032",
  "010.0.0.1",
  "10.0.0.1\n",
  "ffff0::",
  "FFFF::",
  "0000:0000:0000:0000:0000:0000:0000:0000",
  "00000::",
  "[::1]",
  "::1 ",
];

Deno.test("own parsers accept and refuse exactly what the ip-cidr based ones did", () => {
  const r = rng(0x14c1d8);
  const inputs = [...FIXED];
  for (let i = 0; i < 40_000; i++) inputs.push(i % 2 === 0 ? address(r) : withPrefix(r));
  const seen = { ip: 0, cidr: 0, addressOf: 0, quirk: 0, refused: 0 };
  for (const text of inputs) {
    const want = refTryParseIp(text);
    assert.deepEqual(tryParseIp(text), want, `tryParseIp(${JSON.stringify(text)})`);
    if (want) seen.ip++;

    const wc = refTryParseCidr(text);
    const c = tryParseCidr(text);
    const got = c && { family: c.family, prefix: c.prefix, address: c.address, value: 0n };
    if (got && c) {
      // The record's value: the address as written (host bits kept) before masking.
      got.value = tryParseIp(c.address)!.value;
    }
    assert.deepEqual(got, wc, `tryParseCidr(${JSON.stringify(text)})`);
    if (wc) seen.cidr++;

    const wa = refAddressOf(text);
    let a: string | undefined;
    try {
      a = addressOf(text);
    } catch {
      a = undefined;
    }
    if (wa !== undefined && a === undefined && text.indexOf("/") !== text.lastIndexOf("/")) {
      seen.quirk++; // the one deliberate difference (module doc)
    } else {
      assert.equal(a, wa, `addressOf(${JSON.stringify(text)})`);
    }
    if (wa !== undefined) seen.addressOf++;
    if (!want && !wc && wa === undefined) seen.refused++;
  }
  // Every side of every comparison must be exercised, or the test proves nothing.
  const s = JSON.stringify(seen);
  assert.ok(seen.ip > 3000 && seen.cidr > 4000 && seen.addressOf > 8000, s);
  assert.ok(seen.refused > 10_000 && seen.quirk > 0, s);
});

Deno.test("RFC 5952 text equals ip-cidr's correctForm on zero-heavy values", () => {
  const r = rng(0x5952);
  for (let i = 0; i < 3000; i++) {
    let v = 0n;
    for (let g = 0; g < 8; g++) v = (v << 16n) | BigInt(r(3) === 0 ? r(0x10000) : 0);
    assert.equal(ownFormatV6(v), refFormatV6(v), v.toString(16));
  }
});
