import assert from "node:assert/strict";
import {
  bytesContainIp,
  formatIp,
  formatMac,
  isNetworkAddress,
  parseCidr,
  parseIp,
  parseMac,
} from "./ip.ts";
import { NetlinkError } from "./errors.ts";

Deno.test("IPv6 text round-trips in inet_ntop form", () => {
  const cases: [string, string][] = [
    ["fd00:0:0:0:0:0:0:1", "fd00::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["FE80::A:B", "fe80::a:b"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
    ["1::", "1::"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
  ];
  for (const [input, want] of cases) assert.equal(formatIp(parseIp(input).bytes), want, input);
});

Deno.test("bad addresses throw NetlinkError EINVAL", () => {
  for (const bad of ["10.0.0", "10.0.0.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "x", ""]) {
    assert.throws(() => parseIp(bad), (e) => e instanceof NetlinkError && e.errno === 22, bad);
  }
  assert.throws(() => parseCidr("10.0.0.0/33"), NetlinkError);
  assert.throws(() => parseMac("02:00:00:00:00"), NetlinkError);
});

Deno.test("cidr helpers", () => {
  assert.deepEqual(parseCidr("10.1.2.3"), {
    family: 4,
    bytes: new Uint8Array([10, 1, 2, 3]),
    prefix: 32,
  });
  assert.equal(isNetworkAddress(parseCidr("10.0.0.0/8")), true);
  assert.equal(isNetworkAddress(parseCidr("10.0.0.1/8")), false);
  assert.equal(bytesContainIp(parseCidr("10.0.0.0/8"), parseIp("10.255.0.1")), true);
  assert.equal(bytesContainIp(parseCidr("10.0.0.0/8"), parseIp("11.0.0.1")), false);
  assert.equal(bytesContainIp(parseCidr("::/0"), parseIp("10.0.0.1")), false);
  assert.equal(formatMac(parseMac("AA-bb-CC-00-01-02")), "aa:bb:cc:00:01:02");
});
