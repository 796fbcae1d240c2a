import assert from "node:assert/strict";
import { failureOf } from "../cni/testing.ts";
import { parseNetConf } from "./netconf.ts";

const BASE = {
  cniVersion: "1.1.0",
  name: "hgnet",
  type: "hostgate",
  ipam: { type: "hostgate-local", subnet: "10.22.0.0/24" },
};

function codeAndMsg(fn: () => unknown): [number, string] | undefined {
  const f = failureOf(fn);
  return f && [f.code, f.msg];
}

Deno.test("netconf: defaults", () => {
  const c = parseNetConf({ ...BASE }, "ADD");
  assert.equal(c.bridge, "hostgate0");
  assert.equal(c.isGateway, false);
  assert.equal(c.isDefaultGateway, false);
  assert.equal(c.hairpinMode, false);
  assert.equal(c.promiscMode, false);
  assert.equal(c.mtu, undefined);
  assert.deepEqual(c.runtime, { ips: [], portMappings: [] });
  assert.deepEqual(c.args, { ips: [] });
  assert.equal(c.prevResult, undefined);
  assert.equal(c.ipam.type, "hostgate-local");
});

Deno.test("netconf: isDefaultGateway implies isGateway; unknown keys pass through", () => {
  const raw = { ...BASE, isDefaultGateway: true, mtu: 1400, somethingElse: { x: 1 } };
  const c = parseNetConf(raw, "ADD");
  assert.equal(c.isGateway, true);
  assert.equal(c.mtu, 1400);
  assert.deepEqual(c.raw["somethingElse"], { x: 1 });
});

Deno.test("netconf: requested IPs from runtimeConfig and args.cni, canonical", () => {
  const c = parseNetConf({
    ...BASE,
    runtimeConfig: { ips: ["10.22.0.7/24"], portMappings: [] },
    args: { cni: { ips: ["FD00::7"] } },
  }, "ADD");
  assert.deepEqual(c.runtime.ips, ["10.22.0.7"]);
  assert.deepEqual(c.args.ips, ["fd00::7"]);
});

Deno.test("netconf: every bad value is error 7 naming its key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ bridge: 5 }, "bridge"],
    [{ bridge: "way-too-long-bridge-name" }, "bridge"],
    [{ bridge: "a/b" }, "bridge"],
    [{ isGateway: "yes" }, "isGateway"],
    [{ isDefaultGateway: 1 }, "isDefaultGateway"],
    [{ hairpinMode: "true" }, "hairpinMode"],
    [{ promiscMode: null, hairpinMode: [] }, "hairpinMode"],
    [{ hairpinMode: true, promiscMode: true }, "promiscMode"],
    [{ mtu: 10 }, "mtu"],
    [{ mtu: 1500.5 }, "mtu"],
    [{ mtu: "1500" }, "mtu"],
    [{ mtu: 70000 }, "mtu"],
    [{ logLevel: "loud" }, "logLevel"],
    [{ logFile: "relative.log" }, "logFile"],
    // The spec's keys are src/cni's (tested there); one shows they are checked here too.
    [{ runtimeConfig: { ips: ["nope"] } }, "runtimeConfig.ips[0]"],
  ];
  for (const [patch, key] of cases) {
    const r = codeAndMsg(() => parseNetConf({ ...BASE, ...patch }, "ADD"));
    assert.ok(r, `expected failure for ${JSON.stringify(patch)}`);
    assert.equal(r[0], 7, `${JSON.stringify(patch)}: ${r[1]}`);
    assert.ok(r[1].includes(key), `${r[1]} should name ${key}`);
  }
});
