import assert from "node:assert/strict";
import * as v from "./version.ts";
import { codeOf } from "./testing.ts";

Deno.test("version: the supported list is exactly the five spec versions", () => {
  assert.deepEqual([...v.SUPPORTED_VERSIONS], ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]);
  assert.deepEqual(v.versionInfo(), {
    cniVersion: "1.1.0",
    supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  });
});

Deno.test("version: parse and compare", () => {
  assert.deepEqual(v.parseVersion("1.10.2"), [1, 10, 2]);
  assert.equal(v.parseVersion("1.0"), undefined);
  assert.equal(v.parseVersion("v1.0.0"), undefined);
  assert.ok(v.compareVersions("0.4.0", "0.3.1") > 0);
  assert.ok(v.compareVersions("0.10.0", "0.9.0") > 0);
  assert.equal(v.compareVersions("1.1.0", "1.1.0"), 0);
  assert.equal(v.hasIpVersionField("0.4.0"), true);
  assert.equal(v.hasIpVersionField("1.0.0"), false);
});

Deno.test("version: unknown and too-old versions are error 1", () => {
  assert.equal(codeOf(() => v.requireVersion("0.2.0", "ADD")), 1);
  assert.equal(codeOf(() => v.requireVersion("9.9.9", "ADD")), 1);
  assert.equal(codeOf(() => v.requireVersion("banana", "DEL")), 1);
  assert.equal(codeOf(() => v.requireVersion("0.3.1", "CHECK")), 1);
  assert.equal(codeOf(() => v.requireVersion("0.4.0", "CHECK")), undefined);
  assert.equal(codeOf(() => v.requireVersion("1.0.0", "GC")), 1);
  assert.equal(codeOf(() => v.requireVersion("1.0.0", "STATUS")), 1);
  assert.equal(codeOf(() => v.requireVersion("1.1.0", "GC")), undefined);
  assert.equal(codeOf(() => v.requireVersion("0.3.0", "ADD")), undefined);
});

Deno.test("version: v.versionAtLeast orders numerically and refuses what is not x.y.z", () => {
  assert.ok(v.versionAtLeast("1.1.0", "1.1.0"));
  assert.ok(v.versionAtLeast("1.0.0", "0.4.0"));
  assert.ok(v.versionAtLeast("0.4.0", "0.3.1"));
  assert.ok(v.versionAtLeast("0.10.0", "0.9.0"));
  assert.ok(!v.versionAtLeast("0.3.1", "0.4.0"));
  assert.ok(!v.versionAtLeast("1.0.0", "1.1.0"));
  assert.ok(!v.versionAtLeast("banana", "0.1.0"));
  assert.ok(!v.versionAtLeast("", "0.1.0"));
});

Deno.test("version: which command each version has", () => {
  assert.equal(v.hasCommand("0.3.1", "ADD"), true);
  assert.equal(v.hasCommand("0.3.1", "CHECK"), false);
  assert.equal(v.hasCommand("0.4.0", "CHECK"), true);
  assert.equal(v.hasCommand("1.0.0", "GC"), false);
  assert.equal(v.hasCommand("1.1.0", "STATUS"), true);
  assert.equal(v.hasCommand("0.1.0", "VERSION"), true);
  assert.deepEqual(Object.keys(v.MIN_VERSION).sort(), [...v.COMMANDS].sort());
});
