import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { decodeError, encodeError } from "./errors.ts";
import { configVersion, decodeStdin, parseIpamSection, parseSpecConf } from "./netconf.ts";
import { codeOf, failureOf } from "./testing.ts";

const BASE = {
  cniVersion: "1.1.0",
  name: "net1",
  type: "anything",
  ipam: { type: "host-local", subnet: "10.22.0.0/24" },
};

Deno.test("spec conf: the spec's keys, typed; unknown keys stay in raw", () => {
  const c = parseSpecConf({
    ...BASE,
    dns: { nameservers: ["10.96.0.10"] },
    runtimeConfig: { portMappings: [{ HostPort: 80, ContainerPort: 8080 }] },
    args: { cni: { ips: ["10.22.0.9"] } },
    prevResult: { cniVersion: "1.1.0", ips: [{ address: "10.22.0.5/24" }] },
    mine: { x: 1 },
  }, "ADD");
  assert.equal(c.cniVersion, "1.1.0");
  assert.equal(c.name, "net1");
  assert.equal(c.type, "anything");
  assert.equal(c.ipam.type, "host-local");
  assert.deepEqual(c.dns, { nameservers: ["10.96.0.10"] });
  assert.deepEqual(c.runtime.portMappings, [{
    hostPort: 80,
    containerPort: 8080,
    protocol: "tcp",
  }]);
  assert.deepEqual(c.args.ips, ["10.22.0.9"]);
  assert.deepEqual(c.prevResult?.ips, [{ address: "10.22.0.5/24" }]);
  assert.deepEqual(c.raw["mine"], { x: 1 });
  assert.deepEqual(parseSpecConf(BASE, "ADD").dns, {});
});

Deno.test("spec conf: every bad value is code 7 naming its key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ name: undefined }, "name"],
    [{ name: "bad name" }, "name"],
    [{ ipam: undefined }, "ipam"],
    [{ ipam: "host-local" }, "ipam"],
    [{ ipam: {} }, "ipam.type"],
    [{ ipam: { type: "../evil" } }, "ipam.type"],
    [{ ipam: { type: "." } }, "ipam.type"],
    [{ dns: { nameservers: "8.8.8.8" } }, "dns.nameservers"],
    [{ dns: { search: [1] } }, "dns.search"],
    [{ runtimeConfig: [] }, "runtimeConfig"],
    [{ runtimeConfig: { bandwidth: { ingressRate: "1" } } }, "runtimeConfig.bandwidth.ingressRate"],
    [{ args: { cni: { ips: "10.0.0.1" } } }, "args.cni.ips"],
    [{ prevResult: [] }, "prevResult"],
    [{ prevResult: { ips: [{ address: 5 }] } }, "prevResult.ips[0].address"],
    [{ "cni.dev/valid-attachments": {} }, "cni.dev/valid-attachments"],
    [{ "cni.dev/valid-attachments": [{ containerID: 1 }] }, "cni.dev/valid-attachments[0]"],
  ];
  for (const [patch, key] of cases) {
    const f = failureOf(() => parseSpecConf({ ...BASE, ...patch }, "GC"));
    assert.equal(f?.code, CniCode.InvalidNetworkConfig, `${JSON.stringify(patch)}: ${f?.msg}`);
    assert.ok(f!.msg.startsWith(`Cannot parse config: ${key} `), `${f!.msg} should name ${key}`);
  }
  assert.equal(parseIpamSection({ type: "host-local" }).type, "host-local");
});

Deno.test("spec conf: JSON errors are code 6, version errors code 1", () => {
  assert.equal(codeOf(() => decodeStdin("{")), 6);
  assert.equal(codeOf(() => decodeStdin("[1]")), 6);
  assert.equal(codeOf(() => decodeStdin("")), 6);
  assert.equal(codeOf(() => decodeStdin("null")), 6);
  assert.equal(codeOf(() => configVersion({ cniVersion: 1 })), 6);
  assert.equal(configVersion({}), "0.1.0");
  assert.equal(codeOf(() => parseSpecConf({ ...BASE, cniVersion: undefined }, "ADD")), 1);
  assert.equal(codeOf(() => parseSpecConf({ ...BASE, cniVersion: "0.2.0" }, "ADD")), 1);
  assert.equal(codeOf(() => parseSpecConf({ ...BASE, cniVersion: "0.3.1" }, "CHECK")), 1);
  assert.equal(codeOf(() => parseSpecConf({ ...BASE, cniVersion: "1.0.0" }, "GC")), 1);
  assert.equal(codeOf(() => parseSpecConf({ ...BASE, cniVersion: "1.0.0" }, "STATUS")), 1);
  // The version is checked before anything else.
  assert.equal(codeOf(() => parseSpecConf({ cniVersion: "9.9.9" }, "ADD")), 1);
});

Deno.test("spec conf: valid attachments, both spellings; null is absent", () => {
  const a = parseSpecConf({
    ...BASE,
    "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
  }, "GC");
  assert.deepEqual(a.validAttachments, [{ containerId: "c1", ifname: "eth0" }]);
  const b = parseSpecConf({
    ...BASE,
    "cni.dev/attachments": [{ containerID: "c2", ifname: "net1" }],
  }, "GC");
  assert.deepEqual(b.validAttachments, [{ containerId: "c2", ifname: "net1" }]);
  const c = parseSpecConf({ ...BASE, "cni.dev/valid-attachments": null }, "GC");
  assert.equal(c.validAttachments, undefined);
});

Deno.test("error object: written with details only when present, read back with its code", () => {
  const e = new CniError(CniCode.TryAgainLater, "Cannot allocate: busy", "retry");
  assert.deepEqual(encodeError(e, "1.0.0"), {
    cniVersion: "1.0.0",
    code: 11,
    msg: "Cannot allocate: busy",
    details: "retry",
  });
  assert.deepEqual(Object.keys(encodeError(new CniError(7, "x"), "1.1.0")), [
    "cniVersion",
    "code",
    "msg",
  ]);
  const back = decodeError(JSON.stringify(encodeError(e, "1.0.0")), "fallback");
  assert.deepEqual([back?.code, back?.message, back?.details], [
    11,
    "Cannot allocate: busy",
    "retry",
  ]);
  assert.equal(decodeError(JSON.stringify({ code: 3 }), "fallback")?.message, "fallback");
  for (const notError of ["", "{", "[]", '{"code":"7"}', '{"cniVersion":"1.0.0"}']) {
    assert.equal(decodeError(notError, "x"), undefined, notError);
  }
});
