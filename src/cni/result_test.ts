import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { type CniResult, decodeResult, emptyResult, encodeResult, mergeResults } from "./result.ts";
import { failureOf } from "./testing.ts";

const OURS: CniResult = {
  interfaces: [
    { name: "hostgate0", mac: "02:00:00:00:00:01", mtu: 1500 },
    { name: "hg0123456789ab", mac: "02:00:00:00:00:02", mtu: 1500 },
    { name: "eth0", mac: "02:00:00:00:00:03", mtu: 1500, sandbox: "/run/netns/p" },
  ],
  ips: [
    { address: "10.22.0.5/24", gateway: "10.22.0.1", interface: 2 },
    { address: "fd00::5/64", gateway: "fd00::1", interface: 2 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.22.0.1" }, { dst: "::/0", gw: "fd00::1" }],
  dns: { nameservers: ["10.96.0.10"] },
};

Deno.test("result: 0.3.x and 0.4.0 carry ips[].version and no 1.1 fields", () => {
  for (const v of ["0.3.0", "0.3.1", "0.4.0"]) {
    const out = encodeResult(OURS, v);
    assert.equal(out["cniVersion"], v);
    const ips = out["ips"] as Record<string, unknown>[];
    assert.deepEqual(ips.map((i) => i["version"]), ["4", "6"]);
    const ifs = out["interfaces"] as Record<string, unknown>[];
    assert.ok(ifs.every((i) => !("mtu" in i)));
    assert.equal(ifs[2]!["sandbox"], "/run/netns/p");
  }
});

Deno.test("result: 1.0.0 has no version field and no mtu; 1.1.0 has mtu", () => {
  const v10 = encodeResult(OURS, "1.0.0");
  const ips = v10["ips"] as Record<string, unknown>[];
  assert.ok(ips.every((i) => !("version" in i)));
  assert.ok((v10["interfaces"] as Record<string, unknown>[]).every((i) => !("mtu" in i)));
  const v11 = encodeResult(OURS, "1.1.0");
  assert.equal((v11["interfaces"] as Record<string, unknown>[])[0]!["mtu"], 1500);
  assert.deepEqual(v11["dns"], { nameservers: ["10.96.0.10"] });
  assert.deepEqual(v11["routes"], OURS.routes);
});

Deno.test("result: decode drops version and round-trips", () => {
  const wire = encodeResult(OURS, "0.4.0");
  const back = decodeResult(JSON.parse(JSON.stringify(wire)));
  assert.deepEqual(encodeResult(back, "1.1.0")["ips"], OURS.ips);
  assert.equal(back.interfaces.length, 3);
});

Deno.test("result: merge shifts our interface indexes past the earlier plugin's", () => {
  const prev: CniResult = {
    interfaces: [{ name: "lo0" }],
    ips: [{ address: "192.168.1.2/24", interface: 0 }],
    routes: [{ dst: "192.168.0.0/16" }],
    dns: {},
  };
  const m = mergeResults(prev, OURS);
  assert.equal(m.interfaces.length, 4);
  assert.deepEqual(m.ips.map((i) => i.interface), [0, 3, 3]);
  assert.equal(m.routes.length, 3);
  assert.deepEqual(m.dns, OURS.dns);
  const keepDns = mergeResults({ ...prev, dns: { domain: "x" } }, OURS);
  assert.deepEqual(keepDns.dns, { domain: "x" });
});

/** A 1.1.0-only route field and interface field, to see each version drop or keep them. */
const RICH: CniResult = {
  interfaces: [{ name: "eth0", mac: "02:00:00:00:00:03", mtu: 1400, sandbox: "/run/netns/p" }],
  ips: [{ address: "10.22.0.5/24", gateway: "10.22.0.1", interface: 0 }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.22.0.1", mtu: 1400, priority: 5 }],
  dns: {},
};

Deno.test("result: the exact wire shape of every version", () => {
  const iface = { name: "eth0", mac: "02:00:00:00:00:03", sandbox: "/run/netns/p" };
  const route = { dst: "0.0.0.0/0", gw: "10.22.0.1" };
  const ip = { address: "10.22.0.5/24", gateway: "10.22.0.1", interface: 0 };
  const want: Record<string, Record<string, unknown>> = {
    "0.3.0": { interfaces: [iface], ips: [{ version: "4", ...ip }], routes: [route], dns: {} },
    "0.3.1": { interfaces: [iface], ips: [{ version: "4", ...ip }], routes: [route], dns: {} },
    "0.4.0": { interfaces: [iface], ips: [{ version: "4", ...ip }], routes: [route], dns: {} },
    "1.0.0": { interfaces: [iface], ips: [ip], routes: [route], dns: {} },
    "1.1.0": {
      interfaces: [{ ...iface, mtu: 1400 }],
      ips: [ip],
      routes: [{ ...route, mtu: 1400, priority: 5 }],
      dns: {},
    },
  };
  for (const [v, shape] of Object.entries(want)) {
    assert.deepEqual(encodeResult(RICH, v), { cniVersion: v, ...shape }, v);
  }
  // Empty lists are left out; dns is always there.
  assert.deepEqual(encodeResult(emptyResult(), "1.0.0"), { cniVersion: "1.0.0", dns: {} });
});

Deno.test("prevResult: every version decodes to the same internal shape", () => {
  const internal = {
    interfaces: [{ name: "eth0", sandbox: "/run/netns/p" }],
    ips: [{ address: "10.22.0.5/24", gateway: "10.22.0.1", interface: 0 }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  };
  const wire = (v: string, withVersion: boolean) => ({
    cniVersion: v,
    interfaces: [{ name: "eth0", sandbox: "/run/netns/p" }],
    ips: [{ ...(withVersion ? { version: "4" } : {}), ...internal.ips[0] }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  });
  for (const v of ["0.3.0", "0.3.1", "0.4.0"]) {
    assert.deepEqual(decodeResult(wire(v, true)), internal);
  }
  for (const v of ["1.0.0", "1.1.0"]) assert.deepEqual(decodeResult(wire(v, false)), internal);
  // 1.1.0's extra fields survive a decode and an encode in 1.1.0.
  const v11 = decodeResult(encodeResult(RICH, "1.1.0"));
  assert.deepEqual(v11, RICH);
  // 0.1.0/0.2.0: ip4/ip6 with their routes.
  const legacy = decodeResult({
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.5/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
    ip6: { ip: "fd00::5/64" },
    dns: {},
  });
  assert.deepEqual(legacy, {
    interfaces: [],
    ips: [{ address: "10.1.0.5/16", gateway: "10.1.0.1" }, { address: "fd00::5/64" }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: {},
  });
  assert.deepEqual(decodeResult({ cniVersion: "1.0.0" }), emptyResult());
});

Deno.test("prevResult: malformed input is code 7 naming the field; a caller may pick code 6", () => {
  const cases: [unknown, string][] = [
    [[], "prevResult"],
    ["x", "prevResult"],
    [{ interfaces: {} }, "prevResult.interfaces"],
    [{ interfaces: [{ mac: "x" }] }, "prevResult.interfaces[0].name"],
    [{ ips: [{ address: 5 }] }, "prevResult.ips[0].address"],
    [{ ips: [{ address: "10.0.0.1/8", interface: -1 }] }, "prevResult.ips[0].interface"],
    [{ ips: [{ address: "10.0.0.1/8", interface: "0" }] }, "prevResult.ips[0].interface"],
    [{ routes: [{ gw: "10.0.0.1" }] }, "prevResult.routes[0].dst"],
    [{ dns: [] }, "prevResult.dns"],
    [{ dns: { nameservers: "10.0.0.1" } }, "prevResult.dns.nameservers"],
    [{ dns: { domain: 1 } }, "prevResult.dns.domain"],
    [{ ip4: "10.0.0.1/8" }, "prevResult.ip4"],
    [{ ip4: { ip: 1 } }, "prevResult.ip4.ip"],
    [{ ip6: { ip: "fd00::1/64", routes: [{}] } }, "prevResult.ip6.routes[0].dst"],
  ];
  for (const [raw, key] of cases) {
    const f = failureOf(() => decodeResult(raw));
    assert.equal(f?.code, CniCode.InvalidNetworkConfig, JSON.stringify(raw));
    assert.ok(f!.msg.startsWith(`Cannot parse config: ${key} `), `${f!.msg} should name ${key}`);
  }
  const fail = (key: string, why: string) =>
    new CniError(CniCode.DecodeFailure, `Cannot decode result: ${key} ${why}`);
  const f = failureOf(() => decodeResult({ ips: [{}] }, { key: "result", fail }));
  assert.deepEqual(f, {
    code: CniCode.DecodeFailure,
    msg: "Cannot decode result: result.ips[0].address must be a string",
  });
});
