import assert from "node:assert/strict";
import { FakeNetlink } from "../../system/netlink/mod.ts";
import { passCache } from "./pass_cache.ts";

function world() {
  const nl = new FakeNetlink();
  nl.addNetns("/run/netns/peer");
  const raw = nl.open();
  const eth0 = raw.addVeth({ name: "eth0", peerName: "p", peerNetns: "/run/netns/peer" });
  raw.addAddr({ linkIndex: eth0.index, cidr: "192.168.1.10/24" });
  nl.clearCalls();
  return { nl, raw, eth0 };
}

Deno.test("pass cache: repeated reads reach the kernel once", () => {
  const { nl, raw } = world();
  const h = passCache(raw);
  assert.deepEqual(h.listLinks(), raw.listLinks());
  nl.clearCalls();
  h.listLinks();
  h.listLinks();
  h.listAddrs({ family: 4 });
  h.listAddrs({ family: 4 });
  h.listAddrs({ family: 6 });
  assert.equal(nl.callsOf("listLinks").length, 0);
  assert.equal(nl.callsOf("listAddrs").length, 2, "one per distinct argument");
});

Deno.test("pass cache: a write drops what was read", () => {
  const { nl, raw, eth0 } = world();
  const h = passCache(raw);
  assert.equal(h.listAddrs().length, 1);
  h.addAddr({ linkIndex: eth0.index, cidr: "192.168.2.10/24" });
  nl.clearCalls();
  assert.equal(h.listAddrs().length, 2, "the new address is seen");
  assert.equal(nl.callsOf("listAddrs").length, 1);
});

Deno.test("pass cache: callers get copies", () => {
  const { raw } = world();
  const h = passCache(raw);
  const first = h.listLinks();
  first[0]!.name = "changed";
  first.pop();
  assert.deepEqual(h.listLinks(), raw.listLinks());
  assert.equal(h.netns, raw.netns);
});
