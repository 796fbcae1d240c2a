import assert from "node:assert/strict";
import { EEXIST, ENOENT, FakeNftSets } from "../../system/nftables/mod.ts";
import { applyGuard, checkGuard, gcGuards, type GuardDeps, removeGuard } from "./guard.ts";
import { renderGuardDefinition } from "./render.ts";
import { FakeGuardNft, guardElements } from "./testing.ts";

const A = {
  hostVeth: "hg0123456789ab",
  containerId: "ctr1",
  ifname: "eth0",
  mac: "02:aa:bb:cc:dd:01",
  ips: ["10.22.0.5/32", "fd00:22::5/128"],
};
const B = { ...A, hostVeth: "hgbbbbbbbbbbbb", containerId: "ctr2", mac: "02:aa:bb:cc:dd:02" };
B.ips = ["10.22.0.6/32"];

function world(): { d: GuardDeps; sets: FakeNftSets; nft: FakeGuardNft } {
  const sets = new FakeNftSets();
  const nft = new FakeGuardNft(sets);
  return { d: { sets, nft }, sets, nft };
}

const count = (sets: FakeNftSets, family: "inet" | "arp" | "bridge") =>
  Object.values(guardElements(sets, family)).reduce((n, l) => n + l.length, 0);

Deno.test("guard: first ADD finds no table (ENOENT), defines it once, writes again", async () => {
  const { d, sets, nft } = world();
  await applyGuard(d, A, "routed");
  assert.deepEqual(nft.payloads, [renderGuardDefinition("routed")]);
  // ENOENT, then the retry; then the legacy lookup.
  assert.deepEqual(sets.calls.map((c) => c.method), ["apply", "apply"]);
  await applyGuard(d, B, "routed");
  await applyGuard(d, B, "routed"); // a repeat changes nothing
  assert.equal(nft.payloads.length, 1, "the second pod spawns no nft");
  assert.equal(count(sets, "inet"), 6 + 4);
  assert.equal(count(sets, "arp"), 3 + 3);
  assert.equal(sets.hasTableSync("bridge", "hostgate-guard"), false);
  assert.equal(await checkGuard(d, A, "routed"), undefined);
  assert.equal(await checkGuard(d, B, "routed"), undefined);
  assert.match(
    (await checkGuard(d, { ...A, mac: "02:aa:bb:cc:dd:09" }, "routed"))!,
    /hg0123456789ab . 02:aa:bb:cc:dd:09 is missing from set inet hostgate-guard macs/,
  );
  assert.match((await checkGuard(d, A, "bridge"))!, /set bridge hostgate-guard macs is missing/);
});

Deno.test("guard: a fault mid-batch leaves nothing half-applied and names the veth", async () => {
  const { d, sets } = world();
  await applyGuard(d, B, "bridge");
  const before = guardElements(sets, "bridge");
  sets.failNext(105, { atOp: 3 });
  await assert.rejects(
    applyGuard(d, A, "bridge"),
    /^CniError: Cannot install anti-spoofing for hg0123456789ab: Cannot add element to set bridge hostgate-guard nd6: no buffer space available \(ENOBUFS\)/,
  );
  assert.deepEqual(guardElements(sets, "bridge"), before);
  // A definition that cannot be installed: the error is the nft one, nothing is written.
  const w = world();
  w.nft.failNext();
  await assert.rejects(applyGuard(w.d, A, "routed"), /injected/);
  assert.equal(w.sets.hasTableSync("inet", "hostgate-guard"), false);
  // ENOENT again after the definition (a set removed by hand meanwhile) is reported, not looped.
  const x = world();
  for (let i = 0; i < 3; i++) x.sets.failNext(ENOENT);
  await assert.rejects(applyGuard(x.d, A, "routed"), /ENOENT/);
  assert.equal(x.nft.payloads.length, 2);
});

Deno.test("guard: a veth guarded already (EEXIST) loses its stale elements before the new ones go in", async () => {
  const { d, sets } = world();
  await applyGuard(d, A, "routed");
  await applyGuard(d, B, "routed");
  // An earlier pod of the same name (no DEL ran) had another MAC and address.
  const next = { ...A, mac: "02:aa:bb:cc:dd:99", ips: ["10.22.0.9/32"] };
  await applyGuard(d, next, "routed");
  const inet = guardElements(sets, "inet");
  assert.deepEqual(inet.macs, [
    `${A.hostVeth} . 02:aa:bb:cc:dd:99`,
    `${B.hostVeth} . ${B.mac}`,
  ]);
  assert.deepEqual(inet.addr4, [`${A.hostVeth} . 10.22.0.9`, `${B.hostVeth} . 10.22.0.6`]);
  assert.deepEqual(inet.addr6, [], "the predecessor's IPv6 address is gone");
  assert.equal(await checkGuard(d, next, "routed"), undefined);
  // An EEXIST that persists is reported, not looped on.
  for (let i = 0; i < 3; i++) sets.failNext(EEXIST, { method: "apply" });
  await assert.rejects(applyGuard(d, next, "routed"), /EEXIST/);
});

Deno.test("guard: DEL with known keys, by sweep, and with everything gone; never creates", async () => {
  const { d, sets, nft } = world();
  await applyGuard(d, A, "routed");
  await applyGuard(d, B, "routed");
  await removeGuard(d, A, "routed");
  assert.equal(count(sets, "inet"), 4);
  assert.deepEqual(guardElements(sets, "arp").guarded, [B.hostVeth]);
  // Keys unknown (no prevResult): found by host veth.
  await removeGuard(d, { hostVeth: B.hostVeth, containerId: "ctr2", ifname: "eth0" }, "routed");
  assert.equal(count(sets, "inet") + count(sets, "arp"), 0);
  // Repeated, and in a mode whose tables do not exist: still fine, and nothing is created.
  await removeGuard(d, A, "routed");
  await removeGuard(d, A, "bridge");
  await removeGuard(d, { hostVeth: A.hostVeth, containerId: "ctr1", ifname: "eth0" }, "bridge");
  assert.equal(sets.hasTableSync("bridge", "hostgate-guard"), false);
  assert.equal(nft.payloads.length, 1);
  // A real failure is reported.
  await applyGuard(d, A, "routed");
  sets.failNext(1, { method: "apply" });
  await assert.rejects(
    removeGuard(d, A, "routed"),
    /Cannot remove anti-spoofing of hg0123456789ab/,
  );
});

Deno.test("guard GC: removes elements of stale veths in every table, keeps the valid ones", async () => {
  const { d, sets } = world();
  await applyGuard(d, A, "routed");
  await applyGuard(d, B, "routed");
  await applyGuard(d, B, "bridge");
  assert.deepEqual(await gcGuards(d, new Set([A.hostVeth])), [B.hostVeth]);
  assert.deepEqual(guardElements(sets, "inet").guarded, [A.hostVeth]);
  assert.equal(count(sets, "arp"), 3);
  assert.equal(count(sets, "bridge"), 0);
  assert.deepEqual(await gcGuards(d, new Set([A.hostVeth])), []);
  assert.deepEqual(await gcGuards(world().d, new Set()), [], "no tables: nothing to do");
});

Deno.test("guard legacy: ADD and DEL drop the veth's old chain; GC drops stale ones and the empty table", async () => {
  const { d, nft } = world();
  const legacyChain = (v: string) =>
    `add chain netdev hostgate-guard ${v} { type filter hook ingress device "${v}" priority -500; policy drop; }`;
  // What an earlier version left: its table (the fake's hasTable sees it via the sets fake).
  await nft.apply(
    `add table netdev hostgate-guard\n${legacyChain(A.hostVeth)}\n${legacyChain(B.hostVeth)}\n` +
      `${legacyChain("hgcccccccccccc")}\n`,
  );
  await applyGuard(d, A, "routed");
  assert.deepEqual(nft.legacy.chains("netdev", "hostgate-guard"), [B.hostVeth, "hgcccccccccccc"]);
  await removeGuard(d, B, "routed");
  assert.deepEqual(nft.legacy.chains("netdev", "hostgate-guard"), ["hgcccccccccccc"]);
  const before = nft.legacy.payloads.length;
  assert.deepEqual(await gcGuards(d, new Set([A.hostVeth])), ["hgcccccccccccc"]);
  assert.equal(nft.legacy.payloads.length, before + 1);
  assert.match(nft.legacy.payloads.at(-1)!, /delete table netdev hostgate-guard/);
  assert.equal(await nft.legacy.listTable("netdev", "hostgate-guard"), undefined);
  assert.equal(await d.sets.hasTable("netdev", "hostgate-guard"), false);
  // With the table gone, a DEL spawns nothing for it.
  await removeGuard(d, A, "routed");
  assert.equal(nft.legacy.payloads.length, before + 1);
});
