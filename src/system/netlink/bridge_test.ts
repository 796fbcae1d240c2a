import assert from "node:assert/strict";
import { FakeNetlink } from "./fake_netlink.ts";
import { BridgeVanishedError, ensureBridge, NotABridgeError, randomMac } from "./bridge.ts";
import { LinkExistsError } from "./errors.ts";

Deno.test("bridge: created up with a fixed MAC and gateways; a second call writes nothing", () => {
  const h = new FakeNetlink().open();
  const spec = { name: "hg0", mtu: 1450, gateways: ["10.22.0.1/24", "fd00:22::1/64"] };
  const first = ensureBridge(h, spec);
  assert.equal(first.writes, 4, "create, set up, two addresses");
  const br = h.getLink("hg0")!;
  assert.equal(br.kind, "bridge");
  assert.equal(br.up, true);
  assert.equal(br.mtu, 1450);
  assert.match(br.mac, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, "locally administered unicast");
  assert.deepEqual(
    h.listAddrs({ linkIndex: br.index }).map((a) => a.cidr).sort(),
    ["10.22.0.1/24", "fd00:22::1/64"],
  );
  assert.equal(ensureBridge(h, spec).writes, 0);
  // The same IP under another spelling or prefix is already there.
  assert.equal(ensureBridge(h, { name: "hg0", gateways: ["fd00:22:0::1/64"] }).writes, 0);
});

Deno.test("bridge: a down bridge is brought up, promisc when asked", () => {
  const h = new FakeNetlink().open();
  const made = h.addBridge({ name: "hg0", mac: randomMac() });
  h.setLinkDown(made.index);
  const { link, writes } = ensureBridge(h, { name: "hg0", promisc: true });
  assert.equal(writes, 2);
  assert.equal(link.index, made.index);
  assert.equal(h.getLink("hg0")!.up, true);
  assert.equal(h.getLink("hg0")!.promisc, true);
});

Deno.test("bridge: a link of that name that is no bridge, or one that vanishes, is a typed error", () => {
  const nl = new FakeNetlink();
  const h = nl.open();
  h.addVxlan({ name: "hg0", vni: 1, port: 4789, learning: false });
  assert.throws(() => ensureBridge(h, { name: "hg0" }), NotABridgeError);
  const h2 = new FakeNetlink().open();
  const nl2 = h2 as unknown as { addBridge: () => never; getLink: () => undefined };
  nl2.getLink = () => undefined;
  nl2.addBridge = () => {
    throw new LinkExistsError(17, "Cannot add link hg0: exists");
  };
  assert.throws(() => ensureBridge(h2, { name: "hg0" }), BridgeVanishedError);
});
