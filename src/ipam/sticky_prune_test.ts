import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeClock } from "../system/fake_clock.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { DEFAULT_STICKY_TTL_SECONDS, type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { createIpam } from "./factory.ts";
import { LocalIpam } from "./local.ts";
import type { IpamOwner } from "./types.ts";

const DIR = "/run/hostgate/ipam/net1";
const STICKY = `${DIR}/sticky/ns_web-0`;
const HOUR = 3600_000;

function setup(stickyTtl?: number) {
  const clock = new FakeClock();
  const fs = new FakeFileSystem({ clock });
  const config = parseIpamConfig({
    type: "hostgate-local",
    ranges: [[{ subnet: "10.22.0.0/24" }]],
    ...(stickyTtl === undefined ? {} : { stickyTtl }),
  }) as LocalIpamConfig;
  const store = new DiskStore({
    fs,
    clock,
    dataDir: config.dataDir,
    network: "net1",
    stickyTtl: config.stickyTtl,
  });
  return { fs, clock, ipam: new LocalIpam({ config, store }) };
}

const pod = (id: string): IpamOwner => ({
  containerId: id,
  ifname: "eth0",
  podNamespace: "ns",
  podName: "web-0",
});

Deno.test("stickyTtl: default 24 h; a number of seconds; a string or negative is code 7", () => {
  const base = { type: "hostgate-local", subnet: "10.22.0.0/24" };
  assert.equal((parseIpamConfig(base) as LocalIpamConfig).stickyTtl, DEFAULT_STICKY_TTL_SECONDS);
  assert.equal(DEFAULT_STICKY_TTL_SECONDS, 86400);
  assert.equal((parseIpamConfig({ ...base, stickyTtl: 60 }) as LocalIpamConfig).stickyTtl, 60);
  for (const bad of ["60", -5, 2.5, true, {}]) {
    assert.throws(() => parseIpamConfig({ ...base, stickyTtl: bad }), (e: unknown) => {
      assert.ok(e instanceof CniError);
      assert.equal(e.code, CniCode.InvalidNetworkConfig);
      assert.match(e.message, /ipam\.stickyTtl/);
      return true;
    });
  }
});

Deno.test("sticky entry of a gone pod: kept before stickyTtl, pruned by GC after it", async () => {
  const { fs, clock, ipam } = setup(3600);
  await ipam.add(pod("c1"));
  assert.equal(fs.file(STICKY), "10.22.0.2\n");
  await ipam.del(pod("c1"));
  await clock.advance(HOUR - 1);
  await ipam.gc([]);
  assert.equal(fs.file(STICKY), "10.22.0.2\n", "younger than the TTL: kept");
  await clock.advance(1);
  await ipam.gc([]);
  assert.equal(fs.file(STICKY), undefined, "TTL reached and no pod holds it: pruned");
  // The pod coming back now gets round-robin, not its forgotten address.
  await ipam.add({ containerId: "x", ifname: "eth0" });
  const r = await ipam.add(pod("c2"));
  assert.equal(r.ips[0]!.address, "10.22.0.4/24");
});

Deno.test("sticky entry whose pod still holds its address is never pruned; age restarts when seen held", async () => {
  const { fs, clock, ipam } = setup(3600);
  await ipam.add(pod("c1"));
  for (let i = 0; i < 10; i++) {
    await clock.advance(HOUR);
    await ipam.gc([{ containerId: "c1", ifname: "eth0" }]);
    assert.equal(fs.file(STICKY), "10.22.0.2\n", `round ${i}: held, kept`);
  }
  // GC saw it held just now: once the pod is gone it is kept for most of a TTL.
  await ipam.del(pod("c1"));
  await clock.advance(HOUR / 2);
  await ipam.gc([]);
  assert.equal(fs.file(STICKY), "10.22.0.2\n");
  await clock.advance(HOUR);
  await ipam.gc([]);
  assert.equal(fs.file(STICKY), undefined);
});

Deno.test("sticky pruning: a symlink or a folder in sticky/ is never read or removed", async () => {
  const { fs, clock, ipam } = setup(60);
  fs.setFile(`${DIR}/sticky/ns_link`, "10.22.0.9\n");
  fs.setSymlink(`${DIR}/sticky/ns_link`);
  fs.setFile(`${DIR}/sticky/ns_old`, "10.22.0.8\n");
  await clock.advance(HOUR);
  await ipam.gc([]);
  assert.equal(fs.file(`${DIR}/sticky/ns_link`), "10.22.0.9\n");
  assert.equal(fs.file(`${DIR}/sticky/ns_old`), undefined);
  assert.equal(fs.count("readText", `${DIR}/sticky/ns_link`), 0);
});

Deno.test("sticky pruning: an lstat fault fails GC (code 5) and deletes nothing", async () => {
  const { fs, clock, ipam } = setup(60);
  await ipam.add(pod("c1"));
  await ipam.del(pod("c1"));
  await clock.advance(HOUR);
  fs.inject({ op: "lstat", path: STICKY });
  await assert.rejects(ipam.gc([]), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.code, CniCode.IoFailure);
    return true;
  });
  assert.equal(fs.file(STICKY), "10.22.0.2\n");
  fs.clearFaults();
  await ipam.gc([]);
  assert.equal(fs.file(STICKY), undefined);
});

Deno.test("createIpam wires stickyTtl and the clock into the store", async () => {
  const clock = new FakeClock();
  const fs = new FakeFileSystem({ clock });
  const ipam = createIpam({
    config: { ipam: { type: "hostgate-local", subnet: "10.22.0.0/24", stickyTtl: 10 } },
    netName: "net1",
    env: { args: "", path: "/opt/cni/bin" },
    fs,
    exec: {} as never,
    cniVersion: "1.1.0",
    clock,
  });
  await ipam.add(pod("c1"));
  await ipam.del(pod("c1"));
  await clock.advance(9_999);
  await ipam.gc!([]);
  assert.equal(fs.file(STICKY), "10.22.0.2\n");
  await clock.advance(1);
  await ipam.gc!([]);
  assert.equal(fs.file(STICKY), undefined);
});
