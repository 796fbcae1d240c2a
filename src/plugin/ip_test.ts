import assert from "node:assert/strict";
import { canonicalCidr, canonicalIp, familyOf, firstHost, splitCidr } from "./ip.ts";

Deno.test("ip: canonical forms, with and without the fast v4 path", () => {
  const cases: [(s: string) => string, string, string][] = [
    [canonicalIp, "10.22.0.5", "10.22.0.5"],
    [canonicalIp, "FD00:0:0::01", "fd00::1"],
    [canonicalCidr, "10.22.0.5/24", "10.22.0.5/24"],
    [canonicalCidr, "fd00:0::5/64", "fd00::5/64"],
    [canonicalCidr, "::/0", "::/0"],
    [canonicalCidr, "0:0::0/0", "::/0"],
  ];
  for (const [canonical, text, want] of cases) assert.equal(canonical(text), want, text);
  assert.notEqual(canonicalCidr("10.22.0.5/24"), canonicalCidr("10.22.0.5/25"));
});

Deno.test("ip: family, split, first host", () => {
  assert.equal(familyOf("fd00::/64"), 6);
  assert.equal(familyOf("10.0.0.0/8"), 4);
  assert.deepEqual(splitCidr("10.0.0.5/24"), ["10.0.0.5", 24]);
  assert.deepEqual(splitCidr("fd00::5"), ["fd00::5", 128]);
  assert.equal(firstHost("10.22.0.77/24"), "10.22.0.1");
  assert.equal(firstHost("fd00:22::9/64"), "fd00:22::1");
});
