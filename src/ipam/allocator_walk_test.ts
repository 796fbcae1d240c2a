/**
 * The local allocator near exhaustion and with odd requests: a long walk over
 * taken addresses (the by-value index) still finds the free one, and two
 * requested addresses for one range set are refused.
 * @module
 */
import assert from "node:assert/strict";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { type LocalIpamConfig, parseIpamConfig } from "./config.ts";
import { DiskStore } from "./disk_store.ts";
import { IpamRequestError } from "./errors.ts";
import { LocalIpam } from "./local.ts";

const DIR = "/run/hostgate/ipam/net1";

function setup(ranges: unknown) {
  const fs = new FakeFileSystem();
  const config = parseIpamConfig({ type: "hostgate-local", ranges }) as LocalIpamConfig;
  const store = new DiskStore({ fs, dataDir: config.dataDir, network: "net1" });
  return { fs, ipam: new LocalIpam({ config, store }) };
}

Deno.test("a nearly full range: the walk past 200 taken addresses finds the free ones", async () => {
  const { fs, ipam } = setup([[{ subnet: "10.22.0.0/24" }], [{ subnet: "fd00:22::/120" }]]);
  // Taken by host-local itself (no index), all but .200 and .254 of the v4 range.
  for (let i = 2; i <= 253; i++) if (i !== 200) fs.setFile(`${DIR}/10.22.0.${i}`, "old\r\neth0");
  const a = await ipam.add({ containerId: "a", ifname: "eth0" });
  assert.deepEqual(a.ips.map((x) => x.address), ["10.22.0.200/24", "fd00:22::2/120"]);
  const b = await ipam.add({ containerId: "b", ifname: "eth0" });
  assert.deepEqual(b.ips.map((x) => x.address), ["10.22.0.254/24", "fd00:22::3/120"]);
  await assert.rejects(ipam.add({ containerId: "c", ifname: "eth0" }), /10\.22\.0\.0\/24/);
});

Deno.test("two requested addresses in one range set are refused before anything is written", async () => {
  const { fs, ipam } = setup([[{ subnet: "10.22.0.0/24" }]]);
  await assert.rejects(
    ipam.add({ containerId: "a", ifname: "eth0" }, { requestedIps: ["10.22.0.5", "10.22.0.6"] }),
    (e: unknown) => {
      assert.ok(e instanceof IpamRequestError, String(e));
      assert.match(e.message, /range set 0 already gets requested 10\.22\.0\.5/);
      return true;
    },
  );
  assert.deepEqual(fs.paths(DIR).filter((p) => /\d$/.test(p)), []);
});
