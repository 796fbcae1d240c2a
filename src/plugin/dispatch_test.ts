import assert from "node:assert/strict";
import type { Logger } from "../system/log.ts";
import { harness, invoke, netconf } from "./testing.ts";

Deno.test("dispatch: VERSION needs no config and no other variable", async () => {
  const h = harness();
  const r = await invoke(h, "VERSION", { stdin: "", env: { CNI_PATH: undefined } });
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.json, {
    cniVersion: "1.1.0",
    supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
  });
});

Deno.test("dispatch: errors are one JSON object in the config's version, exit 1", async () => {
  const h = harness();
  const r = await invoke(h, "ADD", { conf: netconf({ cniVersion: "0.4.0", mtu: -1 }) });
  assert.equal(r.exitCode, 1);
  assert.equal(r.stdout.trim().split("\n").length, 1);
  assert.deepEqual(Object.keys(r.json!).sort(), ["cniVersion", "code", "msg"]);
  assert.equal(r.json!["cniVersion"], "0.4.0");
  assert.equal(r.json!["code"], 7);
  assert.match(String(r.json!["msg"]), /^Cannot parse config: mtu /);
  // An unsupported version is answered in the newest one.
  const bad = await invoke(h, "ADD", { conf: netconf({ cniVersion: "9.0.0" }) });
  assert.equal(bad.json!["cniVersion"], "1.1.0");
  assert.equal(bad.json!["code"], 1);
});

Deno.test("dispatch: an unexpected exception becomes 999 with its message", async () => {
  const h = harness();
  h.ipam.failNext("add", new TypeError("boom"));
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 999);
  assert.equal(r.json!["msg"], "boom");
  assert.ok(h.log.lines.some((l) => l.level === "error"));
});

Deno.test("dispatch: logFile/logLevel switch to the config's logger", async () => {
  const h = harness();
  const seen: unknown[] = [];
  const lines: string[] = [];
  h.deps.openLog = (opts) => {
    seen.push(opts);
    const keep = (m: string) => lines.push(m);
    const l: Logger = { debug: keep, info: keep, warn: keep, error: keep };
    return l;
  };
  const r = await invoke(h, "ADD", {
    conf: netconf({ logFile: "/var/log/hg.log", logLevel: "debug" }),
  });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.deepEqual(seen, [{ file: "/var/log/hg.log", level: "debug" }]);
  assert.ok(lines.some((m) => m === "ADD done"));
  assert.ok(!r.stdout.includes("ADD done"), "logs never reach stdout");
});
