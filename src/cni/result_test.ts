import assert from "node:assert/strict";
import { type CniResult, decodeResult, encodeResult, mergeResults } from "./result.ts";

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
