import assert from "node:assert/strict";
import {
  compareVersions,
  hasIpVersionField,
  parseVersion,
  requireVersion,
  SUPPORTED_VERSIONS,
  versionAtLeast,
  versionInfo,
} from "./version.ts";
import { codeOf } from "./testing.ts";

Deno.test("version: the supported list is exactly the five spec versions", () => {
  assert.deepEqual([...SUPPORTED_VERSIONS], ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  assert.deepEqual(versionInfo(), {
    cniVersion: "1.1.0",
    supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  });
});

Deno.test("version: parse and compare", () => {
  assert.deepEqual(parseVersion("1.10.2"), [1, 10, 2]);
  assert.equal(parseVersion("1.0"), undefined);
  assert.equal(parseVersion("v1.0.0"), undefined);
  assert.ok(compareVersions("0.4.0", "0.3.1") > 0);
  assert.ok(compareVersions("0.10.0", "0.9.0") > 0);
  assert.equal(compareVersions("1.1.0", "1.1.0"), 0);
  assert.equal(hasIpVersionField("0.4.0"), true);
  assert.equal(hasIpVersionField("1.0.0"), false);
});

Deno.test("version: unknown and too-old versions are error 1", () => {
  assert.equal(codeOf(() => requireVersion("0.2.0", "ADD")), 1);
  assert.equal(codeOf(() => requireVersion("9.9.9", "ADD")), 1);
  assert.equal(codeOf(() => requireVersion("banana", "DEL")), 1);
  assert.equal(codeOf(() => requireVersion("0.3.1", "CHECK")), 1);
  assert.equal(codeOf(() => requireVersion("0.4.0", "CHECK")), undefined);
  assert.equal(codeOf(() => requireVersion("1.0.0", "GC")), 1);
  assert.equal(codeOf(() => requireVersion("1.0.0", "STATUS")), 1);
  assert.equal(codeOf(() => requireVersion("1.1.0", "GC")), undefined);
  assert.equal(codeOf(() => requireVersion("0.3.0", "ADD")), undefined);
});

Deno.test("version: versionAtLeast orders numerically and refuses what is not x.y.z", () => {
  assert.ok(versionAtLeast("1.1.0", "1.1.0"));
  assert.ok(versionAtLeast("1.0.0", "0.4.0"));
  assert.ok(versionAtLeast("0.4.0", "0.3.1"));
  assert.ok(versionAtLeast("0.10.0", "0.9.0"));
  assert.ok(!versionAtLeast("0.3.1", "0.4.0"));
  assert.ok(!versionAtLeast("1.0.0", "1.1.0"));
  assert.ok(!versionAtLeast("banana", "0.1.0"));
  assert.ok(!versionAtLeast("", "0.1.0"));
});
