import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { IpamCheckError, IpamExhaustedError, IpamRequestError } from "./errors.ts";
import { LocalIpam } from "./local.ts";
import type { IpamOwner } from "./types.ts";

const DIR = "/run/hostgate/ipam/net1";

function setup(ipam: Record<string, unknown>, fs = new FakeFileSystem()) {
  const config = parseIpamConfig({ type: "hostgate-local", ...ipam }) as LocalIpamConfig;
  const store = new DiskStore({ fs, dataDir: config.dataDir, network: "net1" });
  return { fs, ipam: new LocalIpam({ config, store }) };
}

const V4 = { ranges: [[{ subnet: "10.22.0.0/24" }]] };
const owner = (id: string, ifname = "eth0"): IpamOwner => ({ containerId: id, ifname });
const ipOf = (address: string) => address.split("/")[0]!;

async function addIp(ipam: LocalIpam, o: IpamOwner, requestedIps?: string[]): Promise<string> {
  const r = await ipam.add(o, { requestedIps });
  assert.equal(r.ips.length, 1);
  return ipOf(r.ips[0]!.address);
}

async function rejects(
  p: Promise<unknown>,
  cls: new (...a: never[]) => Error,
  code: number,
  msg?: RegExp,
) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert.equal((e as unknown as CniError).code, code);
    if (msg) assert.match((e as Error).message, msg);
    return true;
  });
}

Deno.test("ADD: first address after the gateway, result shape, host-local on-disk format", async () => {
  const { fs, ipam } = setup({
    ...V4,
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  });
  const r = await ipam.add(owner("c1"));
  assert.deepEqual(r, {
    ips: [{ family: 4, address: "10.22.0.2/24", gateway: "10.22.0.1" }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  });
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "c1\r\neth0");
  assert.equal(fs.file(`${DIR}/last_reserved_ip.0`), "10.22.0.2");
  assert.equal(fs.file(`${DIR}/lock`), "");
  assert.ok(!fs.isLocked(`${DIR}/lock`), "lock released after the operation");
});

Deno.test("round-robin: a released address is not reused before the range wraps", async () => {
  const { ipam } = setup(V4);
  assert.equal(await addIp(ipam, owner("a")), "10.22.0.2");
  assert.equal(await addIp(ipam, owner("b")), "10.22.0.3");
  assert.equal(await addIp(ipam, owner("c")), "10.22.0.4");
  await ipam.del(owner("b"));
  assert.equal(await addIp(ipam, owner("d")), "10.22.0.5");
});

Deno.test("wraparound: after the range end, free addresses at the start are found", async () => {
  const { ipam, fs } = setup({
    ranges: [[{ subnet: "10.22.0.0/24", rangeStart: "10.22.0.10", rangeEnd: "10.22.0.13" }]],
  });
  const got = [];
  for (const id of ["a", "b", "c", "d"]) got.push(await addIp(ipam, owner(id)));
  assert.deepEqual(got, ["10.22.0.10", "10.22.0.11", "10.22.0.12", "10.22.0.13"]);
  await ipam.del(owner("b"));
  assert.equal(await addIp(ipam, owner("e")), "10.22.0.11");
  assert.equal(fs.file(`${DIR}/last_reserved_ip.0`), "10.22.0.11");
  await ipam.del(owner("a"));
  await ipam.del(owner("d"));
  assert.equal(
    await addIp(ipam, owner("f")),
    "10.22.0.13",
    "continues after the cursor, .13 before .10",
  );
});

Deno.test("gateway, network, broadcast and reservedRanges are never handed out; exhaustion names the set", async () => {
  const { ipam, fs } = setup({
    ranges: [[{
      subnet: "10.22.0.0/28",
      rangeStart: "10.22.0.0",
      rangeEnd: "10.22.0.15",
      gateway: "10.22.0.9",
    }]],
    reservedRanges: ["10.22.0.2-10.22.0.4", "10.22.0.12/30"],
  });
  const got = new Set<string>();
  for (let i = 0; i < 20; i++) {
    try {
      got.add(await addIp(ipam, owner(`p${i}`)));
    } catch (e) {
      assert.ok(e instanceof IpamExhaustedError, String(e));
      assert.equal(e.code, CniCode.IpamExhausted);
      assert.equal(e.rangeSetIndex, 0);
      assert.equal(
        e.message,
        "Cannot allocate an IP address: range set 0 (10.22.0.0/28 (10.22.0.0-10.22.0.15)) has no free address",
      );
      break;
    }
  }
  assert.deepEqual([...got].sort(), [
    "10.22.0.1",
    "10.22.0.10",
    "10.22.0.11",
    "10.22.0.5",
    "10.22.0.6",
    "10.22.0.7",
    "10.22.0.8",
  ]);
  assert.equal(fs.paths(DIR).filter((p) => /\/10\.22/.test(p)).length, 7);
  await rejects(ipam.status(), IpamExhaustedError, CniCode.IpamExhausted);
});

Deno.test("requested IP: granted, refused when taken, outside, the gateway or reserved", async () => {
  const { ipam } = setup({ ...V4, reservedRanges: ["10.22.0.200-10.22.0.210"] });
  assert.equal(await addIp(ipam, owner("a"), ["10.22.0.77"]), "10.22.0.77");
  assert.equal(
    await addIp(ipam, owner("a"), ["10.22.0.77/24"]),
    "10.22.0.77",
    "same request is idempotent",
  );
  await rejects(
    ipam.add(owner("b"), { requestedIps: ["10.22.0.77"] }),
    IpamRequestError,
    7,
    /held by another container/,
  );
  await rejects(
    ipam.add(owner("b"), { requestedIps: ["10.23.0.5"] }),
    IpamRequestError,
    7,
    /not in any range set/,
  );
  await rejects(
    ipam.add(owner("b"), { requestedIps: ["10.22.0.1"] }),
    IpamRequestError,
    7,
    /gateway/,
  );
  await rejects(
    ipam.add(owner("b"), { requestedIps: ["10.22.0.205"] }),
    IpamRequestError,
    7,
    /reserved/,
  );
  await rejects(ipam.add(owner("b"), { requestedIps: ["x"] }), IpamRequestError, 7, /not an IP/);
  await rejects(
    ipam.add(owner("a"), { requestedIps: ["10.22.0.78"] }),
    IpamRequestError,
    7,
    /already holds 10\.22\.0\.77/,
  );
  // The cursor follows host-local: a requested address moves it.
  assert.equal(await addIp(ipam, owner("c")), "10.22.0.78");
});

Deno.test("CNI_ARGS-style default requested IPs apply when add gets none", async () => {
  const fs = new FakeFileSystem();
  const config = parseIpamConfig({ type: "hostgate-local", ...V4 }) as LocalIpamConfig;
  const ipam = new LocalIpam({
    config,
    store: new DiskStore({ fs, dataDir: config.dataDir, network: "net1" }),
    defaultRequestedIps: ["10.22.0.50"],
  });
  assert.equal(await addIp(ipam, owner("a")), "10.22.0.50");
  assert.equal(
    await addIp(ipam, owner("b"), []),
    "10.22.0.51",
    "explicit [] overrides the default",
  );
});

Deno.test("idempotent ADD returns the held address without a new reservation", async () => {
  const { ipam, fs } = setup(V4);
  const first = await ipam.add(owner("a"));
  const creates = fs.count("createExclusive");
  const second = await ipam.add(owner("a"));
  assert.deepEqual(second, first);
  assert.equal(fs.count("createExclusive"), creates, "no new reservation file");
  assert.equal(
    await addIp(ipam, owner("a", "eth1")),
    "10.22.0.3",
    "another ifname is another owner",
  );
});

Deno.test("dual-stack: one address per range set, each with its gateway and prefix", async () => {
  const { ipam, fs } = setup({
    ranges: [[{ subnet: "10.22.0.0/24" }], [{ subnet: "fd00:22::/64" }]],
  });
  const r = await ipam.add(owner("a"));
  assert.deepEqual(r.ips, [
    { family: 4, address: "10.22.0.2/24", gateway: "10.22.0.1" },
    { family: 6, address: "fd00:22::2/64", gateway: "fd00:22::1" },
  ]);
  assert.equal(fs.file(`${DIR}/fd00:22::2`), "a\r\neth0");
  assert.equal(fs.file(`${DIR}/last_reserved_ip.1`), "fd00:22::2");
  await ipam.del(owner("a"));
  assert.deepEqual(fs.paths(DIR).filter((p) => /\/(10\.|fd00)/.test(p)), []);
});

Deno.test("dual-stack: a partial allocation is rolled back when the second set is exhausted", async () => {
  const { ipam, fs } = setup({
    ranges: [[{ subnet: "10.22.0.0/24" }], [{
      subnet: "fd00:22::/64",
      rangeStart: "fd00:22::2",
      rangeEnd: "fd00:22::2",
    }]],
  });
  await ipam.add(owner("a"));
  await rejects(ipam.add(owner("b")), IpamExhaustedError, 100, /range set 1 \(fd00:22::\/64/);
  assert.equal(fs.file(`${DIR}/10.22.0.3`), undefined, "the v4 pick was never reserved");
  assert.deepEqual(fs.paths(DIR).filter((p) => /\/(10\.|fd00)/.test(p)), [
    `${DIR}/10.22.0.2`,
    `${DIR}/fd00:22::2`,
  ]);
});

Deno.test("sticky IP: a pod coming back under its name gets its address when free", async () => {
  const { ipam, fs } = setup(V4);
  const pod = (id: string): IpamOwner => ({
    containerId: id,
    ifname: "eth0",
    podNamespace: "ns",
    podName: "web-0",
  });
  assert.equal(await addIp(ipam, pod("c1")), "10.22.0.2");
  assert.equal(fs.file(`${DIR}/sticky/ns_web-0`), "10.22.0.2\n");
  await ipam.del(pod("c1"));
  assert.equal(await addIp(ipam, owner("other")), "10.22.0.3");
  assert.equal(await addIp(ipam, pod("c2")), "10.22.0.2", "sticky beats round-robin");
  await ipam.del(pod("c2"));
  assert.equal(await addIp(ipam, owner("thief"), ["10.22.0.2"]), "10.22.0.2");
  assert.equal(await addIp(ipam, pod("c3")), "10.22.0.4", "taken: round-robin instead");
  assert.equal(fs.file(`${DIR}/sticky/ns_web-0`), "10.22.0.4\n", "sticky follows the new address");
});

Deno.test("DEL of an unknown owner succeeds and changes nothing; DEL twice is fine", async () => {
  const { ipam, fs } = setup(V4);
  await ipam.add(owner("a"));
  const before = fs.paths(DIR).map((p) => [p, fs.file(p)]);
  await ipam.del(owner("nobody"));
  await ipam.del(owner("a", "eth9"));
  assert.deepEqual(fs.paths(DIR).map((p) => [p, fs.file(p)]), before);
  await ipam.del(owner("a"));
  await ipam.del(owner("a"));
  assert.equal(fs.file(`${DIR}/10.22.0.2`), undefined);
});

Deno.test("DEL never releases an address another owner holds now (stale index)", async () => {
  const { ipam, fs } = setup(V4);
  await ipam.add(owner("a"));
  // Simulate: a's file vanished (crash + GC) and b got the address.
  fs.setFile(`${DIR}/10.22.0.2`, "b\r\neth0");
  await ipam.del(owner("a"));
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "b\r\neth0");
});

Deno.test("GC releases stale reservations, keeps lock, cursors, sticky, valid and legacy ones", async () => {
  const { ipam, fs } = setup(V4);
  await ipam.add(owner("keep"));
  await ipam.add({ containerId: "gone", ifname: "eth0", podNamespace: "ns", podName: "p" });
  await ipam.add(owner("twoif", "eth0"));
  await ipam.add(owner("twoif", "eth1"));
  fs.setFile(`${DIR}/10.22.0.99`, "legacy-id"); // host-local before ifname was recorded
  fs.setFile(`${DIR}/10.22.0.98`, "legacy-gone");
  fs.setFile(`${DIR}/.last_reserved_ip.0.tmp-123-abc`, "junk"); // a killed writer's temp file
  await ipam.gc([
    { containerId: "keep", ifname: "eth0" },
    { containerId: "twoif", ifname: "eth0" },
    { containerId: "legacy-id", ifname: "eth0" },
  ]);
  const files = fs.paths(DIR).map((p) => p.slice(DIR.length + 1));
  assert.deepEqual(files, [
    "10.22.0.2",
    "10.22.0.4",
    "10.22.0.99",
    "last_reserved_ip.0",
    "lock",
    "owners/keep@eth0",
    "owners/twoif@eth0",
    "sticky/ns_p",
  ]);
  assert.equal(fs.file(`${DIR}/10.22.0.4`), "twoif\r\neth0");
  await ipam.gc([]);
  assert.deepEqual(fs.paths(DIR).map((p) => p.slice(DIR.length + 1)), [
    "last_reserved_ip.0",
    "lock",
    "sticky/ns_p",
  ]);
});

Deno.test("CHECK: passes for held addresses, code 3 otherwise", async () => {
  const { ipam } = setup(V4);
  await ipam.add(owner("a"));
  await ipam.check(owner("a"), ["10.22.0.2/24"]);
  await ipam.check(owner("a"), []);
  await rejects(
    ipam.check(owner("a"), ["10.22.0.3/24"]),
    IpamCheckError,
    CniCode.UnknownContainer,
    /does not hold 10\.22\.0\.3/,
  );
  await rejects(ipam.check(owner("b"), []), IpamCheckError, 3, /holds none/);
});

Deno.test("addresses written by host-local itself (no index) are respected as taken", async () => {
  const fs = new FakeFileSystem({
    files: { [`${DIR}/10.22.0.2`]: "foreign\r\neth0", [`${DIR}/last_reserved_ip.0`]: "10.22.0.1" },
  });
  const { ipam } = setup(V4, fs);
  assert.equal(await addIp(ipam, owner("a")), "10.22.0.3");
  await ipam.gc([{ containerId: "a", ifname: "eth0" }]);
  assert.equal(fs.file(`${DIR}/10.22.0.2`), undefined, "GC finds unindexed reservations");
});

Deno.test("config grew a range set: re-ADD keeps the held v4, adds v6, DEL releases both", async () => {
  const fs = new FakeFileSystem();
  const v4only = setup(V4, fs).ipam;
  await v4only.add(owner("a"));
  const dual =
    setup({ ranges: [[{ subnet: "10.22.0.0/24" }], [{ subnet: "fd00::/64" }]] }, fs).ipam;
  const r = await dual.add(owner("a"));
  assert.deepEqual(r.ips.map((i) => i.address), ["10.22.0.2/24", "fd00::2/64"]);
  // Shrink to v6 only: the v4 address is outside every range now but still indexed.
  const v6only = setup({ ranges: [[{ subnet: "fd00::/64" }]] }, fs).ipam;
  assert.deepEqual((await v6only.add(owner("a"))).ips.map((i) => i.address), ["fd00::2/64"]);
  await v6only.del(owner("a"));
  assert.deepEqual(fs.paths(DIR).filter((p) => /\/(10\.|fd00)/.test(p)), []);
});

Deno.test("STATUS with room left lists once and reads no reservation record", async () => {
  const { ipam, fs } = setup(V4);
  for (let i = 0; i < 30; i++) await ipam.add(owner(`c${i}`));
  fs.calls.length = 0;
  await ipam.status();
  assert.equal(fs.count("readDir"), 1);
  assert.equal(fs.count("readText"), 0);
});

Deno.test("sticky IPs for a dual-stack pod, one line per family", async () => {
  const { ipam, fs } = setup({ ranges: [[{ subnet: "10.22.0.0/24" }], [{ subnet: "fd00::/64" }]] });
  const pod = (id: string): IpamOwner => ({
    containerId: id,
    ifname: "eth0",
    podNamespace: "db",
    podName: "pg-1",
  });
  await ipam.add(owner("x"));
  await ipam.add(pod("c1"));
  assert.equal(fs.file(`${DIR}/sticky/db_pg-1`), "10.22.0.3\nfd00::3\n");
  await ipam.del(pod("c1"));
  await ipam.add(owner("y"));
  const r = await ipam.add(pod("c2"));
  assert.deepEqual(r.ips.map((i) => i.address), ["10.22.0.3/24", "fd00::3/64"]);
});
