import assert from "node:assert/strict";
import { assertGolden } from "../../agent/testing/golden.ts";
import { FakeChainNft } from "../../system/fake_nft_chains.ts";
import {
  GUARD_TABLE,
  guardProblem,
  linkLocalOf,
  parseGuardTable,
  renderGuardAdd,
  renderGuardRemove,
  v6Hex,
} from "./render.ts";
import { applyGuard, checkGuard, listGuards, removeGuards } from "./guard.ts";

const DUAL = {
  hostVeth: "hg0123456789ab",
  containerId: "ctr1",
  ifname: "eth0",
  mac: "02:AA:bb:cc:dd:01",
  ips: ["10.22.0.5/32", "fd00:22::5/128"],
};

Deno.test("guard: dual-stack ADD payload matches its golden file", async () => {
  // The one testdata/ folder the unit tests may read (deno task golden rewrites it).
  await assertGolden("guard_dual.nft", renderGuardAdd(DUAL));
});

Deno.test("guard: v4-only payload has no IPv6 rule, so every IPv6 frame meets policy drop", () => {
  const p = renderGuardAdd({ ...DUAL, ips: ["10.22.0.5/24"] });
  assert.ok(p.includes("ip saddr 10.22.0.5 accept"));
  assert.ok(p.includes("arp saddr ether 02:aa:bb:cc:dd:01 arp saddr ip { 0.0.0.0, 10.22.0.5 }"));
  assert.ok(!p.includes("ip6"));
  assert.ok(p.includes("policy drop;"));
});

Deno.test("guard: EUI-64 link-local and 128-bit literals", () => {
  assert.equal(linkLocalOf("02:aa:bb:cc:dd:01"), "fe80::aa:bbff:fecc:dd01");
  assert.equal(v6Hex("fd00:22::5"), "0xfd000022000000000000000000000005");
  assert.equal(v6Hex("fe80::1"), "0xfe800000000000000000000000000001");
});

Deno.test("guard: a comment never carries a quote from the container ID", () => {
  const p = renderGuardAdd({ ...DUAL, containerId: 'a"b' });
  assert.ok(p.includes("container a_b eth0"));
});

Deno.test("guard: remove payload creates-then-deletes each chain; nothing for none", () => {
  assert.equal(renderGuardRemove([]), "");
  assert.equal(
    renderGuardRemove(["hg0123456789ab"]),
    "add table netdev hostgate-guard\n" +
      "add chain netdev hostgate-guard hg0123456789ab\n" +
      "flush chain netdev hostgate-guard hg0123456789ab\n" +
      "delete chain netdev hostgate-guard hg0123456789ab\n",
  );
});

Deno.test("guard: apply twice leaves one chain; CHECK passes, then sees a drift; remove is idempotent", async () => {
  const nft = new FakeChainNft();
  await applyGuard(nft, DUAL);
  await applyGuard(nft, DUAL);
  assert.deepEqual(nft.chains(GUARD_TABLE.family, GUARD_TABLE.name), [DUAL.hostVeth]);
  assert.equal(await checkGuard(nft, { ...DUAL, mac: "02:aa:bb:cc:dd:01" }), undefined);
  assert.match(
    (await checkGuard(nft, { ...DUAL, mac: "02:aa:bb:cc:dd:02" }))!,
    /does not pin MAC/,
  );
  assert.match((await checkGuard(nft, { ...DUAL, ips: ["10.22.0.6"] }))!, /rules, not|allow/);
  assert.deepEqual(await listGuards(nft), [DUAL.hostVeth]);
  await removeGuards(nft, [DUAL.hostVeth]);
  await removeGuards(nft, [DUAL.hostVeth]);
  assert.deepEqual(await listGuards(nft), []);
  assert.match((await checkGuard(nft, DUAL))!, /missing/);
});

Deno.test("guard: a failed nft is a CniError naming the veth, and changes nothing", async () => {
  const nft = new FakeChainNft();
  nft.failNext();
  await assert.rejects(applyGuard(nft, DUAL), /Cannot install anti-spoofing for hg0123456789ab/);
  assert.deepEqual(await listGuards(nft), []);
});

Deno.test("guard: parse keeps header, comment and rules per chain", () => {
  const text = `table netdev hostgate-guard {
	comment "x"
	chain hg0123456789ab {
		comment "hostgate: anti-spoofing of container c1 eth0"
		type filter hook ingress device "hg0123456789ab" priority -500; policy drop;
		ether saddr != 02:00:00:00:00:01 drop comment "hostgate: forged source MAC"
		ip saddr 10.0.0.2 accept
	}
}
`;
  const c = parseGuardTable(text).get("hg0123456789ab")!;
  assert.equal(c.comment, "hostgate: anti-spoofing of container c1 eth0");
  assert.equal(c.rules.length, 2);
  assert.match(guardProblem(c, { ...DUAL, mac: "02:00:00:00:00:01", ips: ["10.0.0.2"] })!, /rules/);
});
