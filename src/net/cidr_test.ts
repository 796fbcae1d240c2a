import assert from "node:assert/strict";
import {
  cidrContainsIp,
  cidrsOverlap,
  isCidr,
  normalizeCidr,
  nthAddress,
  parseCidr,
  tryParseCidr,
} from "./cidr.ts";
import { AddressError } from "./address.ts";

Deno.test("parseCidr clears host bits and reports network, last, size", () => {
  const c = parseCidr("10.22.0.5/24");
  assert.equal(c.family, 4);
  assert.equal(c.prefix, 24);
  assert.equal(c.address, "10.22.0.5");
  assert.equal(c.network, "10.22.0.0");
  assert.equal(c.last, "10.22.0.255");
  assert.equal(c.text, "10.22.0.0/24");
  assert.equal(c.size, 256n);
  const v6 = parseCidr("FD00:0:0:1::7/64");
  assert.equal(v6.family, 6);
  assert.equal(v6.text, "fd00:0:0:1::/64");
  assert.equal(v6.last, "fd00::1:ffff:ffff:ffff:ffff");
  assert.equal(v6.size, 1n << 64n);
  assert.equal(parseCidr("0.0.0.0/0").size, 1n << 32n);
});

Deno.test("invalid CIDRs are refused", () => {
  for (
    const bad of [
      "10.0.0.0",
      "10.0.0.0/",
      "10.0.0.0/33",
      "10.0.0.0/08",
      "10.0.0.0/-1",
      "fd00::/129",
      "x/24",
      "/24",
      "10.0.0.0/24/1",
      "fe80::%eth0/64",
      "::ffff:1.2.3.4/120",
    ]
  ) {
    assert.equal(tryParseCidr(bad), undefined, bad);
    assert.equal(isCidr(bad), false, bad);
    assert.throws(() => parseCidr(bad), AddressError, bad);
  }
});

Deno.test("contains and overlap", () => {
  assert.ok(cidrContainsIp("10.22.0.0/24", "10.22.0.255"));
  assert.ok(!cidrContainsIp("10.22.0.0/24", "10.22.1.0"));
  assert.ok(!cidrContainsIp("10.22.0.0/24", "fd00::1"));
  assert.ok(!cidrContainsIp("10.22.0.0/24", "garbage"));
  assert.ok(cidrContainsIp(parseCidr("fd00::/64"), "fd00::ffff"));
  assert.ok(cidrsOverlap("10.0.0.0/8", "10.22.0.0/24"));
  assert.ok(!cidrsOverlap("10.22.0.0/24", "10.22.1.0/24"));
  assert.ok(!cidrsOverlap("10.0.0.0/8", "fd00::/8"));
  assert.equal(normalizeCidr("10.1.2.3/16"), "10.1.0.0/16");
});

Deno.test("nthAddress counts from the network address, negative from the end", () => {
  assert.equal(nthAddress("10.22.0.0/24", 0), "10.22.0.0");
  assert.equal(nthAddress("10.22.0.0/24", 1), "10.22.0.1");
  assert.equal(nthAddress("10.22.0.0/24", -1), "10.22.0.255");
  assert.equal(nthAddress("10.22.0.0/24", -2), "10.22.0.254");
  assert.equal(nthAddress("10.22.0.0/24", 256), undefined);
  assert.equal(nthAddress("10.22.0.0/24", -257), undefined);
  assert.equal(nthAddress("fd00::/64", 1n), "fd00::1");
  assert.equal(nthAddress("fd00::/64", -1), "fd00::ffff:ffff:ffff:ffff");
});
