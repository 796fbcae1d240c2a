import assert from "node:assert/strict";
import {
  AddressError,
  addressOf,
  bigIntToIp,
  ipToBigInt,
  isIp,
  normalizeIp,
  parseIp,
  tryParseIp,
} from "./address.ts";

Deno.test("parseIp gives family, value and canonical text", () => {
  assert.deepEqual(parseIp("10.22.0.5"), { family: 4, value: 0x0a160005n, text: "10.22.0.5" });
  assert.deepEqual(parseIp("FD00:0:0::0A"), {
    family: 6,
    value: (0xfd00n << 112n) + 10n,
    text: "fd00::a",
  });
  assert.equal(parseIp("255.255.255.255").value, 0xffffffffn);
});

Deno.test("canonical IPv6 text follows RFC 5952 like Go's net.IP.String", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["fd00:0:0:0:0:0:0:0", "fd00::"],
  ];
  for (const [input, want] of cases) assert.equal(normalizeIp(input), want, input);
});

Deno.test("invalid addresses are refused with AddressError", () => {
  for (
    const bad of [
      "",
      "10.0.0",
      "10.0.0.256",
      "10.0.0.01",
      " 10.0.0.1",
      "10.0.0.1/24",
      "1::2::3",
      "fe80::1%eth0",
      "abc",
      "12345::",
    ]
  ) {
    assert.equal(tryParseIp(bad), undefined, bad);
    assert.equal(isIp(bad), false, bad);
    assert.throws(() => parseIp(bad), AddressError, bad);
  }
  assert.throws(() => parseIp("nope"), /Cannot parse IP address: "nope"/);
});

Deno.test("bigint round trip", () => {
  for (
    const ip of ["0.0.0.0", "10.22.3.4", "255.255.255.255", "::", "fd00::1:0:0:1", "2001:db8::"]
  ) {
    const p = parseIp(ip);
    assert.equal(bigIntToIp(p.family, ipToBigInt(ip)), ip);
  }
  assert.throws(() => bigIntToIp(4, 1n << 32n), AddressError);
  assert.throws(() => bigIntToIp(6, -1n), AddressError);
});

Deno.test("addressOf strips a prefix and normalises", () => {
  assert.equal(addressOf("10.0.0.5/24"), "10.0.0.5");
  assert.equal(addressOf("FD00::5/64"), "fd00::5");
  assert.equal(addressOf("10.0.0.5"), "10.0.0.5");
  assert.throws(() => addressOf("10.0.0.5/"), AddressError);
  assert.throws(() => addressOf("10.0.0.5/40"), AddressError);
});
