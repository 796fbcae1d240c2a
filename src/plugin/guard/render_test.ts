import assert from "node:assert/strict";
import { assertGolden } from "../../agent/testing/golden.ts";
import { decodeKey } from "../../system/nftables/mod.ts";
import { guardOps, hostVethOfKey } from "./elements.ts";
import { renderLegacyRemove } from "./legacy.ts";
import { GUARD_TABLES, linkLocalOf, renderGuardDefinition } from "./render.ts";

const DUAL = {
  hostVeth: "hg0123456789ab",
  containerId: "ctr1",
  ifname: "eth0",
  mac: "02:AA:bb:cc:dd:01",
  ips: ["10.22.0.5/32", "fd00:22::5/128"],
};

Deno.test("guard golden: routed definition (inet + arp tables)", async () => {
  // The one testdata/ folder the unit tests may read (deno task golden rewrites it).
  await assertGolden("guard_routed.nft", renderGuardDefinition("routed"));
});

Deno.test("guard golden: bridge definition (bridge table)", async () => {
  await assertGolden("guard_bridge.nft", renderGuardDefinition("bridge"));
});

Deno.test("guard: the definition is idempotent and never flushes or deletes a set", () => {
  for (const mode of ["routed", "bridge"] as const) {
    const p = renderGuardDefinition(mode);
    assert.ok(!/flush set|delete|destroy/.test(p), mode);
    assert.ok(p.split("\n").every((l) => l === "" || /^(add|flush chain) /.test(l)), mode);
    // Everything it makes carries a hostgate comment.
    for (const l of p.split("\n").filter((l) => l.startsWith("add "))) {
      assert.match(l, /comment "hostgate: /, l);
    }
  }
});

Deno.test("guard: EUI-64 link-local", () => {
  assert.equal(linkLocalOf("02:aa:bb:cc:dd:01"), "fe80::aa:bbff:fecc:dd01");
});

Deno.test("guard: a pod's ops per mode, keyed by its host veth, guarded last on add", () => {
  const add = guardOps(DUAL, "routed", "add");
  assert.deepEqual(add.map((o) => `${o.family} ${o.set}`), [
    "inet macs",
    "inet addr4",
    "inet addr6",
    "inet nd6",
    "inet nd6",
    "arp macs",
    "arp addr4",
    "inet guarded",
    "arp guarded",
  ]);
  assert.ok(
    add.every((o) => o.table === "hostgate-guard" && hostVethOfKey(o.key) === DUAL.hostVeth),
  );
  assert.deepEqual(add.filter((o) => o.comment).map((o) => o.comment), [
    "hostgate: ctr1 eth0",
    "hostgate: ctr1 eth0",
  ]);
  assert.deepEqual(decodeKey(["ifname", "ether_addr"], add[0]!.key), [
    DUAL.hostVeth,
    "02:aa:bb:cc:dd:01",
  ]);
  const nd = add.filter((o) => o.set === "nd6").map((o) =>
    decodeKey(["ifname", "ipv6_addr"], o.key)[1]
  );
  assert.deepEqual(nd, ["fd00:22::5", "fe80::aa:bbff:fecc:dd01"]);
  const del = guardOps(DUAL, "routed", "delete");
  assert.deepEqual(del.slice(0, 2).map((o) => `${o.op} ${o.family} ${o.set}`), [
    "delete inet guarded",
    "delete arp guarded",
  ]);
  assert.ok(del.every((o) => o.comment === undefined));
  const bridge = guardOps({ ...DUAL, ips: ["10.22.0.5/24"] }, "bridge", "add");
  assert.deepEqual(bridge.map((o) => `${o.family} ${o.set}`), [
    "bridge macs",
    "bridge addr4",
    "bridge nd6",
    "bridge guarded",
  ]);
  assert.equal(GUARD_TABLES.bridge.length, 1);
});

Deno.test("guard: a comment never carries a quote from the container ID", () => {
  const [o] = guardOps({ ...DUAL, containerId: 'a"b' }, "bridge", "add").filter((o) => o.comment);
  assert.equal(o!.comment, "hostgate: a_b eth0");
});

Deno.test("guard legacy: remove payload creates-then-deletes each chain; nothing for none", () => {
  assert.equal(renderLegacyRemove([]), "");
  assert.equal(
    renderLegacyRemove(["hg0123456789ab"], true),
    "add table netdev hostgate-guard\n" +
      "add chain netdev hostgate-guard hg0123456789ab\n" +
      "flush chain netdev hostgate-guard hg0123456789ab\n" +
      "delete chain netdev hostgate-guard hg0123456789ab\n" +
      "delete table netdev hostgate-guard\n",
  );
});
