/**
 * LocalIpam when its store fails underneath: every command reports an I/O
 * failure (CNI code 5) naming what it was doing, STATUS reports the store as
 * unavailable (code 50 at the boundary), and nothing half-written is left.
 * @module
 */
import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { IpamExhaustedError, IpamUnavailableError } from "./errors.ts";
import { LocalIpam } from "./local.ts";

const DIR = "/run/hostgate/ipam/net1";
const owner = { containerId: "c1", ifname: "eth0" };

function setup(ranges: unknown = [[{ subnet: "10.22.0.0/24" }]]) {
  const fs = new FakeFileSystem();
  const config = parseIpamConfig({ type: "hostgate-local", ranges }) as LocalIpamConfig;
  const store = new DiskStore({ fs, dataDir: config.dataDir, network: "net1" });
  return { fs, ipam: new LocalIpam({ config, store }) };
}

const ioFailure = (what: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CniError, String(e));
  assert.equal(e.code, CniCode.IoFailure);
  assert.match(e.message, what);
  assert.match(e.message, /injected fault/);
  return true;
};

Deno.test("local IPAM: a store that cannot be read fails DEL, CHECK and GC with code 5", async () => {
  const { fs, ipam } = setup();
  await ipam.add(owner);
  const stop = fs.inject({ op: ["readDir", "readText"] });
  await assert.rejects(ipam.del(owner), ioFailure(/^Cannot release the addresses of c1\/eth0/));
  await assert.rejects(
    ipam.check(owner, ["10.22.0.2"]),
    ioFailure(/^Cannot read the addresses of c1\/eth0/),
  );
  await assert.rejects(ipam.gc([]), ioFailure(/^Cannot collect stale IPAM reservations/));
  stop();
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "c1\r\neth0", "the reservation is kept");
  await ipam.check(owner, ["10.22.0.2"]);
});

Deno.test("local IPAM: ADD that cannot write its reservation fails with code 5 and holds nothing", async () => {
  const { fs, ipam } = setup();
  const stop = fs.inject({ op: "createExclusive" });
  await assert.rejects(
    ipam.add(owner),
    ioFailure(/^Cannot reserve 10\.22\.0\.2: /),
  );
  stop();
  assert.equal(fs.file(`${DIR}/10.22.0.2`), undefined);
  await assert.rejects(ipam.check(owner, []), /holds none/);
});

Deno.test("local IPAM: STATUS says unavailable when the store cannot be read", async () => {
  const { fs, ipam } = setup();
  await ipam.status();
  fs.inject({ op: "readDir" });
  await assert.rejects(ipam.status(), (e: unknown) => {
    assert.ok(e instanceof IpamUnavailableError, String(e));
    assert.match(e.message, /^Cannot read the IPAM store: /);
    return true;
  });
});

Deno.test("local IPAM: STATUS names the exhausted range set of a dual-stack config", async () => {
  const { ipam } = setup([[{ subnet: "10.22.0.0/30" }], [{ subnet: "fd00:22::/120" }]]);
  await ipam.add(owner);
  // The /30 has one usable address (.2, the gateway is .1), now taken; v6 has room.
  await assert.rejects(ipam.status(), (e: unknown) => {
    assert.ok(e instanceof IpamExhaustedError, String(e));
    assert.match(e.message, /10\.22\.0\.0\/30/);
    assert.doesNotMatch(e.message, /fd00/);
    return true;
  });
});
