/**
 * The disk store after what other writers and crashes leave: an address taken
 * by another process between listing and writing, torn owner indexes, temp
 * files of killed writers, and a probe name already taken.
 * @module
 */
import assert from "node:assert/strict";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { IpamRequestError } from "./errors.ts";
import { LocalIpam } from "./local.ts";

const DIR = "/run/hostgate/ipam/net1";
const owner = { containerId: "c1", ifname: "eth0" };

/** A file system where another process reserves `ips` just before we write them. */
class RacingFs extends FakeFileSystem {
  readonly racing: Set<string>;
  constructor(ips: string[]) {
    super();
    this.racing = new Set(ips.map((ip) => `${DIR}/${ip}`));
  }
  override async createExclusive(path: string, data: string): Promise<boolean> {
    if (this.racing.delete(path)) await super.createExclusive(path, "other\r\neth0");
    return await super.createExclusive(path, data);
  }
}

function setup(fs: FakeFileSystem) {
  const config = parseIpamConfig({
    type: "hostgate-local",
    ranges: [[{ subnet: "10.22.0.0/24" }]],
  }) as LocalIpamConfig;
  const store = new DiskStore({ fs, dataDir: config.dataDir, network: "net1" });
  return { store, ipam: new LocalIpam({ config, store }) };
}

Deno.test("an address another process reserved first is skipped; the next free one is taken", async () => {
  const fs = new RacingFs(["10.22.0.2", "10.22.0.3"]);
  const { ipam } = setup(fs);
  const r = await ipam.add(owner);
  assert.equal(r.ips[0]!.address, "10.22.0.4/24");
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "other\r\neth0", "the winner keeps its address");
  assert.equal(fs.file(`${DIR}/10.22.0.3`), "other\r\neth0");
  assert.equal(fs.file(`${DIR}/10.22.0.4`), "c1\r\neth0");
  await ipam.check(owner, ["10.22.0.4"]);
});

Deno.test("a requested address another process reserved first is refused, not replaced", async () => {
  const fs = new RacingFs(["10.22.0.9"]);
  const { ipam } = setup(fs);
  await assert.rejects(ipam.add(owner, { requestedIps: ["10.22.0.9"] }), (e: unknown) => {
    assert.ok(e instanceof IpamRequestError, String(e));
    assert.match(e.message, /10\.22\.0\.9.*held by another container/);
    return true;
  });
  assert.equal(fs.file(`${DIR}/10.22.0.9`), "other\r\neth0");
  assert.deepEqual(fs.paths(DIR).filter((p) => /\/10\.22\.0\.\d+$/.test(p)), [`${DIR}/10.22.0.9`]);
});

Deno.test("a torn owner index loses only the hint; GC releases its address and removes it", async () => {
  const fs = new FakeFileSystem();
  const { ipam } = setup(fs);
  await ipam.add(owner);
  const index = `${DIR}/owners/c1@eth0`;
  fs.setFile(index, '{"containerId":"c1","ifn'); // a crash mid-write (without the temp file)
  fs.setFile(`${DIR}/owners/.c2@eth0.tmp-77-abc`, "{"); // a killed writer's temp file
  fs.setFile(`${DIR}/owners/c3@eth0`, '{"ips":[]}'); // an index without an owner
  await assert.rejects(ipam.check(owner, ["10.22.0.2"]), /does not hold 10\.22\.0\.2/);
  await ipam.del(owner); // finds nothing by the torn hint, and fails nothing
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "c1\r\neth0", "the address itself is still there");
  await ipam.gc([owner]);
  assert.equal(fs.file(index), undefined, "a torn index is dropped even for a valid owner");
  assert.equal(fs.file(`${DIR}/owners/c3@eth0`), undefined);
  assert.equal(fs.file(`${DIR}/owners/.c2@eth0.tmp-77-abc`), undefined);
  assert.equal(fs.file(`${DIR}/10.22.0.2`), "c1\r\neth0", "a valid owner keeps its address");
  await ipam.gc([]);
  assert.equal(fs.file(`${DIR}/10.22.0.2`), undefined, "GC finds the file without the index");
});
