/**
 * The own parsers' numbers and text against ip-cidr's own (jsbn) conversions,
 * over many pseudo-random addresses and prefixes (ip-cidr is a test-only
 * reference now; ip_parity_test.ts covers accept/reject on hostile text).
 */
import assert from "node:assert/strict";
import IPCIDR from "ip-cidr";
import { bigIntToIp, fastV4, parseIp, tryParseIp } from "./address.ts";
import { cidrContainsIp, nthAddress, parseCidr } from "./cidr.ts";

/** What ip-address hands back (ip-cidr re-exports it only as a type). */
type LibAddress = IPCIDR.Address & { correctForm(): string };

interface LibClass {
  fromBigInteger(n: bigint): LibAddress;
}

/** xorshift32: deterministic, so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomV6(next: () => number): string {
  // Runs of zero groups are common in real addresses and are what RFC 5952 compresses.
  const groups = Array.from(
    { length: 8 },
    () => next() % 3 === 0 ? "0" : (next() & 0xffff).toString(16),
  );
  return groups.join(":");
}

function randomV4(next: () => number): string {
  const n = next();
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

Deno.test("parse and format agree with ip-cidr's jsbn conversions", () => {
  const next = rng(0x5eed);
  const v4Class = IPCIDR.createAddress("0.0.0.0").constructor as unknown as LibClass;
  const v6Class = IPCIDR.createAddress("::").constructor as unknown as LibClass;
  for (let i = 0; i < 400; i++) {
    const text = i % 2 === 0 ? randomV4(next) : randomV6(next);
    const lib = IPCIDR.createAddress(text) as LibAddress;
    const want = BigInt(IPCIDR.formatIP(lib, { type: "bigInteger" }) as bigint);
    const p = parseIp(text);
    assert.equal(p.value, want, text);
    assert.equal(p.text, lib.correctForm(), text);
    const cls = p.family === 4 ? v4Class : v6Class;
    assert.equal(bigIntToIp(p.family, want), cls.fromBigInteger(want).correctForm(), text);
  }
});

Deno.test("CIDR bounds, membership and n-th address agree with ip-cidr", () => {
  const next = rng(0xc1d8);
  for (let i = 0; i < 300; i++) {
    const v4 = i % 2 === 0;
    const prefix = next() % (v4 ? 33 : 129);
    const text = `${v4 ? randomV4(next) : randomV6(next)}/${prefix}`;
    const block = new IPCIDR(text);
    const [first, last] = block.toRange({ type: "bigInteger" }) as [bigint, bigint];
    const c = parseCidr(text);
    assert.equal(c.networkValue, first, text);
    assert.equal(c.lastValue, last, text);
    assert.equal(c.size, block.size, text);
    assert.equal(`${c.network}/${c.prefix}`, c.text, text);
    const probe = v4 ? randomV4(next) : randomV6(next);
    assert.equal(cidrContainsIp(c, probe), block.contains(probe), `${text} ${probe}`);
    const n = BigInt(next()) % c.size;
    const [nth] = block.toArray({ from: n, limit: 1 });
    assert.equal(nthAddress(c, n), parseIp(nth!).text, `${text} #${n}`);
  }
});

Deno.test("the dotted-quad fast path accepts exactly what ip-cidr accepts, with its value", () => {
  const next = rng(0xfa57);
  const pieces = ["0", "00", "01", "1", "9", "10", "99", "100", "255", "256", "999", "1000", ""];
  // Both sides of each comparison must be exercised, or the test proves nothing.
  const seen = { fastAccepted: 0, fastDeclined: 0, libRefused: 0 };
  for (let i = 0; i < 4000; i++) {
    const n = 3 + (next() % 3); // 3..5 octets
    const text = i % 3 === 0
      ? randomV4(next)
      : Array.from({ length: n }, () => pieces[next() % pieces.length]).join(".");
    let lib: LibAddress | undefined;
    try {
      lib = IPCIDR.createAddress(text) as LibAddress;
    } catch {
      lib = undefined;
    }
    const fast = fastV4(text);
    if (fast >= 0) seen.fastAccepted++;
    else seen.fastDeclined++;
    if (!lib) seen.libRefused++;
    if (fast >= 0) {
      assert.ok(lib, `fast path accepted ${text}, ip-cidr refused it`);
      assert.equal(BigInt(fast), BigInt(IPCIDR.formatIP(lib, { type: "bigInteger" }) as bigint));
      assert.equal(lib.correctForm(), text, text);
    }
    // The public parse (fast path or library) refuses what the library refuses.
    assert.equal(tryParseIp(text) !== undefined, lib !== undefined, text);
    // A memoised second parse gives the same answer.
    assert.deepEqual(tryParseIp(text), tryParseIp(text), text);
  }
  // Every random dotted quad (a third of the inputs) must take the fast path.
  assert.ok(seen.fastAccepted >= 4000 / 3, JSON.stringify(seen));
  assert.ok(seen.fastDeclined > 500 && seen.libRefused > 500, JSON.stringify(seen));
});

Deno.test("IPv4 CIDRs on the fast path equal the library path", () => {
  const next = rng(0xb10c);
  for (let i = 0; i < 500; i++) {
    const text = `${randomV4(next)}/${next() % 33}`;
    const c = parseCidr(text);
    const block = new IPCIDR(text);
    const [first, last] = block.toRange({ type: "bigInteger" }) as [bigint, bigint];
    assert.equal(c.networkValue, first, text);
    assert.equal(c.lastValue, last, text);
    assert.equal(c.network, block.start() as string, text);
    assert.equal(c.address, (IPCIDR.createAddress(text) as LibAddress).correctForm(), text);
  }
});
