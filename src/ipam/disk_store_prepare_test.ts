/**
 * The allocation's locked section stays short: what needs no lock happens
 * before it, and nothing it skips costs a guarantee.
 */
import assert from "node:assert/strict";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { LocalIpam } from "./local.ts";
import type { IpamOwner } from "./types.ts";

const DIR = "/run/hostgate/ipam/net1";
const pod = (id: string, name = `p-${id}`): IpamOwner => ({
  containerId: id,
  ifname: "eth0",
  podNamespace: "default",
  podName: name,
});

function setup(fs = new FakeFileSystem()) {
  const config = parseIpamConfig({
    type: "hostgate-local",
    ranges: [[{ subnet: "10.22.0.0/24" }]],
  }) as LocalIpamConfig;
  const store = new DiskStore({ fs, dataDir: config.dataDir, network: "net1" });
  return { fs, store, ipam: new LocalIpam({ config, store }) };
}

/** Calls as `op path-below-the-store`, split at the lock. */
function split(fs: FakeFileSystem): { before: string[]; locked: string[] } {
  const calls = fs.calls.map((c) => `${c.op} ${c.path.slice(DIR.length + 1)}`);
  const at = calls.indexOf("lock lock");
  assert.ok(at >= 0, "the ADD took the lock");
  return { before: calls.slice(0, at), locked: calls.slice(at + 1) };
}

Deno.test("ADD on a fresh store: folders and the sticky read before the lock, only the decision inside", async () => {
  const { fs, ipam } = setup();
  await ipam.add(pod("a"));
  const { before, locked } = split(fs);
  for (const c of ["mkdirp ", "mkdirp owners", "mkdirp sticky", "readText sticky/default_p-a"]) {
    assert.ok(before.includes(c), `${c} before the lock: ${before.join(", ")}`);
  }
  assert.deepEqual(locked, [
    "readText owners/a@eth0",
    "readDir ",
    "readText last_reserved_ip.0",
    "createExclusive owners/a@eth0",
    "createExclusive 10.22.0.2",
    "overwrite last_reserved_ip.0",
    "createExclusive sticky/default_p-a",
  ]);
  assert.equal(fs.file(`${DIR}/last_reserved_ip.0`), "10.22.0.2");
  assert.equal(fs.file(`${DIR}/sticky/default_p-a`), "10.22.0.2\n");
});

Deno.test("a sticky address read before the lock is still checked free under it", async () => {
  const { fs, store, ipam } = setup();
  await ipam.add(pod("a", "web"));
  await ipam.del(pod("a", "web"));
  // Read the hint now, then someone takes the address before our lock.
  await store.prepareAllocate({ namespace: "default", name: "web" });
  fs.setFile(`${DIR}/10.22.0.2`, "other\r\neth0");
  const ips = await store.withLock(() => store.sticky({ namespace: "default", name: "web" }));
  assert.deepEqual(ips, ["10.22.0.2"], "the hint is used once");
  const r = await ipam.add(pod("b", "web"));
  assert.equal(r.ips[0]!.address, "10.22.0.3/24", "the taken sticky address is not handed out");
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "other\r\neth0");
});

Deno.test("a torn or garbage cursor only moves where the walk starts", async () => {
  for (const cursor of ["", "10.22.", "10.22.0.", "\u0000\u0000", "fd00::1", "10.22.0.77junk"]) {
    const { fs, ipam } = setup();
    await ipam.add(pod("a"));
    fs.setFile(`${DIR}/last_reserved_ip.0`, cursor);
    const r = await ipam.add(pod("b"));
    assert.equal(r.ips[0]!.address, "10.22.0.3/24", JSON.stringify(cursor));
    assert.equal(fs.file(`${DIR}/last_reserved_ip.0`), "10.22.0.3");
  }
});

Deno.test("a symlinked store: prepareAllocate makes no folder there and ADD is refused", async () => {
  const { fs, store, ipam } = setup();
  fs.setSymlink(DIR);
  await store.prepareAllocate({ namespace: "default", name: "x" });
  assert.equal(fs.count("mkdirp"), 0);
  await assert.rejects(ipam.add(pod("a")), /symlink/);
  assert.equal(fs.count("mkdirp") + fs.count("createExclusive") + fs.count("overwrite"), 0);
});
