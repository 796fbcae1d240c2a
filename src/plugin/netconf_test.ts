import assert from "node:assert/strict";
import { CniError } from "../errors.ts";
import { configVersion, decodeStdin, parseNetConf } from "./netconf.ts";

const BASE = {
  cniVersion: "1.1.0",
  name: "hgnet",
  type: "hostgate",
  ipam: { type: "hostgate-local", subnet: "10.22.0.0/24" },
};

function codeAndMsg(fn: () => unknown): [number, string] | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CniError) return [e.code, e.message];
    return [-1, String(e)];
  }
  return undefined;
}

Deno.test("netconf: defaults", () => {
  const c = parseNetConf({ ...BASE }, "ADD");
  assert.equal(c.bridge, "hostgate0");
  assert.equal(c.isGateway, false);
  assert.equal(c.isDefaultGateway, false);
  assert.equal(c.hairpinMode, false);
  assert.equal(c.promiscMode, false);
  assert.equal(c.mtu, undefined);
  assert.deepEqual(c.requestedIps, []);
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

Deno.test("netconf: requested IPs from runtimeConfig and args.cni", () => {
  const c = parseNetConf({
    ...BASE,
    runtimeConfig: { ips: ["10.22.0.7/24"], portMappings: [] },
    args: { cni: { ips: ["fd00::7"] } },
  }, "ADD");
  assert.deepEqual(c.requestedIps, ["10.22.0.7/24", "fd00::7"]);
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
    [{ ipam: undefined }, "ipam"],
    [{ ipam: "host-local" }, "ipam"],
    [{ ipam: {} }, "ipam.type"],
    [{ ipam: { type: "../evil" } }, "ipam.type"],
    [{ name: undefined }, "name"],
    [{ name: "bad name" }, "name"],
    [{ runtimeConfig: [] }, "runtimeConfig"],
    [{ runtimeConfig: { ips: ["nope"] } }, "runtimeConfig.ips"],
    [{ args: { cni: { ips: "10.0.0.1" } } }, "args.cni.ips"],
    [{ logLevel: "loud" }, "logLevel"],
    [{ logFile: "relative.log" }, "logFile"],
    [{ prevResult: [] }, "prevResult"],
    [{ prevResult: { ips: [{ address: 5 }] } }, "prevResult.ips[0].address"],
    [{ dns: { nameservers: "8.8.8.8" } }, "dns.nameservers"],
  ];
  for (const [patch, key] of cases) {
    const r = codeAndMsg(() => parseNetConf({ ...BASE, ...patch }, "ADD"));
    assert.ok(r, `expected failure for ${JSON.stringify(patch)}`);
    assert.equal(r[0], 7, `${JSON.stringify(patch)}: ${r[1]}`);
    assert.ok(r[1].includes(key), `${r[1]} should name ${key}`);
  }
});

Deno.test("netconf: JSON and version errors", () => {
  assert.equal(codeAndMsg(() => decodeStdin("{"))?.[0], 6);
  assert.equal(codeAndMsg(() => decodeStdin("[1]"))?.[0], 6);
  assert.equal(codeAndMsg(() => decodeStdin(""))?.[0], 6);
  assert.equal(codeAndMsg(() => configVersion({ cniVersion: 1 }))?.[0], 6);
  assert.equal(configVersion({}), "0.1.0");
  assert.equal(codeAndMsg(() => parseNetConf({ ...BASE, cniVersion: undefined }, "ADD"))?.[0], 1);
  assert.equal(codeAndMsg(() => parseNetConf({ ...BASE, cniVersion: "0.2.0" }, "ADD"))?.[0], 1);
  assert.equal(codeAndMsg(() => parseNetConf({ ...BASE, cniVersion: "0.3.1" }, "CHECK"))?.[0], 1);
  assert.equal(codeAndMsg(() => parseNetConf({ ...BASE, cniVersion: "1.0.0" }, "GC"))?.[0], 1);
  assert.equal(codeAndMsg(() => parseNetConf({ ...BASE, cniVersion: "1.0.0" }, "STATUS"))?.[0], 1);
});

Deno.test("netconf: valid attachments, both spellings; null is empty", () => {
  const a = parseNetConf({
    ...BASE,
    "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
  }, "GC");
  assert.deepEqual(a.validAttachments, [{ containerId: "c1", ifname: "eth0" }]);
  const b = parseNetConf({
    ...BASE,
    "cni.dev/attachments": [{ containerID: "c2", ifname: "net1" }],
  }, "GC");
  assert.deepEqual(b.validAttachments, [{ containerId: "c2", ifname: "net1" }]);
  const c = parseNetConf({ ...BASE, "cni.dev/valid-attachments": null }, "GC");
  assert.equal(c.validAttachments, undefined);
  const bad = codeAndMsg(() =>
    parseNetConf({ ...BASE, "cni.dev/valid-attachments": [{ containerID: 1 }] }, "GC")
  );
  assert.equal(bad?.[0], 7);
});
