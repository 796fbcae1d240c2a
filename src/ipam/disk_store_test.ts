import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeFileSystem, InjectedFault } from "../system/fake_fs.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { IpamUnavailableError } from "./errors.ts";
import { LocalIpam } from "./local.ts";
import { formatRecord, parseRecord, validKeyPredicate } from "./store.ts";
import type { IpamOwner } from "./types.ts";

const DIR = "/run/hostgate/ipam/net1";
const V4 = { ranges: [[{ subnet: "10.22.0.0/24" }]] };
const owner = (id: string, ifname = "eth0"): IpamOwner => ({ containerId: id, ifname });

function setup(ipam: Record<string, unknown> = V4, fs = new FakeFileSystem()) {
  const config = parseIpamConfig({ type: "hostgate-local", ...ipam }) as LocalIpamConfig;
  const store = new DiskStore({ fs, dataDir: config.dataDir, network: "net1" });
  return { fs, store, ipam: new LocalIpam({ config, store }) };
}

/** Reservation files (by address) and their contents. */
function reservations(fs: FakeFileSystem): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of fs.paths(DIR)) {
    const name = p.slice(DIR.length + 1);
    if (/^[0-9a-f:.]+$/.test(name)) out[name] = fs.file(p)!;
  }
  return out;
}

Deno.test("record format: host-local's `<id>\\r\\n<ifname>`, legacy id-only records", () => {
  assert.equal(formatRecord({ containerId: " abc ", ifname: "eth0" }), "abc\r\neth0");
  assert.deepEqual(parseRecord("abc\r\neth0"), { containerId: "abc", ifname: "eth0" });
  assert.deepEqual(parseRecord("abc\n"), { containerId: "abc" });
  const valid = validKeyPredicate([{ containerId: "a", ifname: "eth0" }]);
  assert.ok(valid({ containerId: "a", ifname: "eth0" }));
  assert.ok(!valid({ containerId: "a", ifname: "eth1" }));
  assert.ok(valid({ containerId: "a" }));
  assert.ok(!valid({ containerId: "b" }));
});

Deno.test("network names that would escape the data dir are refused with code 7", () => {
  for (const network of ["", "..", ".", "a/b"]) {
    assert.throws(
      () => new DiskStore({ fs: new FakeFileSystem(), dataDir: "/d", network }),
      (e: unknown) => e instanceof CniError && e.code === CniCode.InvalidNetworkConfig,
    );
  }
});

// Every write of an ADD fails once in turn: the ADD fails with code 5 and no
// reservation is left behind; the next ADD then succeeds normally.
const FAULT_CASES = [
  ["the owner index", { op: "write", path: /\/owners\// }, "10.22.0.2"],
  ["the reservation file", { op: "createExclusive", path: /\/10\.22\.0\.2$/ }, "10.22.0.2"],
  ["the round-robin cursor", { op: "overwrite", path: /last_reserved_ip\.0$/ }, "10.22.0.2"],
  // The cursor had moved already (as in host-local): the next ADD takes the next address.
  ["the sticky file", { op: "write", path: /\/sticky\// }, "10.22.0.3"],
] as const;
for (const [label, fault, next] of FAULT_CASES) {
  Deno.test(`fault injection: a failed write of ${label} leaves no reservation`, async () => {
    const { fs, ipam } = setup();
    const pod = { ...owner("c1"), podNamespace: "ns", podName: "p" };
    const off = fs.inject({ ...fault, nth: 1 });
    await assert.rejects(ipam.add(pod), (e: unknown) => {
      assert.ok(e instanceof CniError, String(e));
      assert.equal(e.code, CniCode.IoFailure);
      assert.ok(e.cause instanceof InjectedFault, "cause kept");
      return true;
    });
    off();
    assert.deepEqual(reservations(fs), {});
    assert.ok(!fs.isLocked(`${DIR}/lock`), "lock released on failure");
    const r = await ipam.add(pod);
    assert.equal(r.ips[0]!.address.split("/")[0], next);
    assert.deepEqual(reservations(fs), { [next]: "c1\r\neth0" });
  });
}

Deno.test("fault injection: the Nth write of a dual-stack ADD rolls back the first family", async () => {
  const { fs, ipam } = setup({ ranges: [[{ subnet: "10.22.0.0/24" }], [{ subnet: "fd00::/64" }]] });
  fs.inject({ op: "createExclusive", nth: 2 });
  await assert.rejects(ipam.add(owner("a")), CniError);
  assert.deepEqual(reservations(fs), {});
});

Deno.test("a lock that cannot be taken is code 5 for ADD and 50 (IpamUnavailableError) for STATUS", async () => {
  const { fs, ipam } = setup();
  fs.inject({ op: "lock" });
  await assert.rejects(ipam.add(owner("a")), (e: unknown) => e instanceof CniError && e.code === 5);
  await assert.rejects(
    ipam.status(),
    (e: unknown) => e instanceof IpamUnavailableError && e.code === 50,
  );
});

Deno.test("STATUS: passes on a fresh store, fails when the directory is not writable", async () => {
  const { fs, ipam } = setup();
  await ipam.status();
  assert.deepEqual(fs.paths(DIR), [`${DIR}/lock`], "the probe file is gone");
  fs.inject({ op: "createExclusive", path: (p) => p.startsWith(DIR) });
  await assert.rejects(ipam.status(), (e: unknown) => {
    assert.ok(e instanceof IpamUnavailableError);
    assert.match(e.message, /Cannot use the IPAM store \/run\/hostgate\/ipam\/net1/);
    return true;
  });
});

Deno.test("per-pod I/O stays O(1): no directory walk beyond one listing, no foreign records read", async () => {
  const { fs, ipam } = setup();
  for (let i = 0; i < 50; i++) await ipam.add(owner(`c${i}`));
  fs.calls.length = 0;
  await ipam.add(owner("new"));
  assert.equal(fs.count("readDir"), 1, "one listing per ADD");
  const reads = fs.calls.filter((c) => c.op === "readText").map((c) =>
    c.path.slice(DIR.length + 1)
  );
  assert.deepEqual(reads.sort(), ["last_reserved_ip.0", "owners/new@eth0"]);
  fs.calls.length = 0;
  await ipam.add(owner("new"));
  assert.ok(fs.count("readText") <= 3, "idempotent ADD reads the index and its own record");
  fs.calls.length = 0;
  await ipam.del(owner("c7"));
  assert.equal(fs.count("readDir"), 0, "DEL does not list the directory");
  assert.deepEqual(
    fs.calls.filter((c) => c.op === "readText").map((c) => c.path.slice(DIR.length + 1)),
    ["owners/c7@eth0", "10.22.0.9"],
  );
});

Deno.test("20 concurrent ADDs in one process get 20 distinct addresses (flock in the fake)", async () => {
  const { fs, ipam } = setup();
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => ipam.add(owner(`c${i}`))),
  );
  const ips = results.map((r) => r.ips[0]!.address);
  assert.equal(new Set(ips).size, 20);
  assert.equal(Object.keys(reservations(fs)).length, 20);
});

Deno.test("very long container IDs still get a bounded index file name", async () => {
  const { fs, ipam } = setup();
  const id = "x".repeat(400);
  await ipam.add(owner(id));
  const idx = fs.paths(`${DIR}/owners`);
  assert.equal(idx.length, 1);
  assert.ok(idx[0]!.length - `${DIR}/owners/`.length < 255);
  await ipam.del(owner(id));
  assert.deepEqual(reservations(fs), {});
});

Deno.test("a symlink where the store or its owners/sticky folder belongs: code 5, nothing touched", async () => {
  for (const link of [DIR, `${DIR}/owners`, `${DIR}/sticky`]) {
    const { fs, ipam } = setup();
    await ipam.add(owner("a"));
    const before = reservations(fs);
    fs.setSymlink(link);
    const calls = fs.calls.length;
    for (const op of [() => ipam.gc([]), () => ipam.del(owner("a")), () => ipam.add(owner("b"))]) {
      await assert.rejects(op(), (e: unknown) => {
        assert.ok(e instanceof CniError && e.code === CniCode.IoFailure, String(e));
        assert.match(e.message, /symlink/);
        return true;
      });
    }
    assert.deepEqual(reservations(fs), before, link);
    const writes = ["writeAtomic", "createExclusive", "overwrite", "remove", "mkdirp", "lock"];
    assert.deepEqual(fs.calls.slice(calls).filter((c) => writes.includes(c.op)), [], link);
  }
});

Deno.test("DEL on a read-only store: nothing held is success; a held address is code 5 naming it", async () => {
  const { fs, ipam } = setup();
  const held = await ipam.add(owner("a"));
  const readOnly = () => new Deno.errors.PermissionDenied("EROFS: read-only file system");
  fs.inject({ op: ["write", "lock"], error: readOnly });
  await ipam.del(owner("never-added"));
  await assert.rejects(ipam.del(owner("a")), (e: unknown) => {
    assert.ok(e instanceof CniError && e.code === CniCode.IoFailure, String(e));
    assert.match(e.message, new RegExp(held.ips[0]!.address.split("/")[0]!.replaceAll(".", "\\.")));
    return true;
  });
  fs.clearFaults();
  await ipam.del(owner("a"));
  assert.deepEqual(reservations(fs), {});
});
