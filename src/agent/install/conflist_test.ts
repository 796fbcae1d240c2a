import assert from "node:assert/strict";
import { renderConflist } from "./conflist.ts";
import { assertGolden } from "../testing/mod.ts";

Deno.test("conflist: single stack (golden)", async () => {
  await assertGolden(
    "conflist_v4.json",
    renderConflist({
      name: "hostgate",
      bridge: "hostgate0",
      mtu: 1450,
      podCidrs: ["10.244.1.0/24"],
    }),
  );
});

Deno.test("conflist: dual stack, v4 range first, custom IPAM dir (golden)", async () => {
  await assertGolden(
    "conflist_dual.json",
    renderConflist({
      name: "hostgate",
      bridge: "hostgate0",
      mtu: 9000,
      podCidrs: ["fd00:10:244:1::/64", "10.244.1.0/24"],
      ipamDir: "/var/lib/hostgate/ipam",
    }),
  );
});

Deno.test("conflist: shape the runtimes read", () => {
  const c = JSON.parse(
    renderConflist({
      name: "hostgate",
      bridge: "hostgate0",
      mtu: 1500,
      podCidrs: ["10.244.1.0/24"],
      ipamDir: "/run/hostgate/ipam",
    }),
  );
  assert.equal(c.cniVersion, "1.0.0");
  assert.deepEqual(c.cniVersions, ["1.0.0", "1.1.0"]);
  assert.deepEqual(c.plugins.map((p: { type: string }) => p.type), ["hostgate", "portmap"]);
  assert.equal(c.plugins[0].ipam.dataDir, undefined, "the default dir is not written");
  assert.deepEqual(c.plugins[1], {
    type: "portmap",
    capabilities: { portMappings: true },
    snat: true,
  });
});

Deno.test("conflist: refused without a subnet", () => {
  assert.throws(
    () => renderConflist({ name: "hostgate", bridge: "hostgate0", mtu: 1500, podCidrs: [] }),
    /no pod subnet/,
  );
});
