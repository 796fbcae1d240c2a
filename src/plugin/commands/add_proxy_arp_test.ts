import assert from "node:assert/strict";
import { harness, invoke, netconf } from "../testing.ts";

const KEY = "net/ipv4/conf/hg-br0/proxy_arp";

Deno.test("ADD with hostgate-ippool: proxy ARP on the bridge, set once", async () => {
  const h = harness({ pods: ["/run/netns/pod1", "/run/netns/pod2"] });
  const conf = netconf({ ipam: { type: "hostgate-ippool", pool: "default" } });
  const r = await invoke(h, "ADD", { conf });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.equal(h.netlink.snapshot("").sysctls[KEY], "1");
  const r2 = await invoke(h, "ADD", { conf, containerId: "ctr2", netns: "/run/netns/pod2" });
  assert.equal(r2.exitCode, 0, r2.stdout);
  const writes = h.netlink.callsOf("setSysctl").filter((c) => c.args[0] === KEY);
  assert.equal(writes.length, 1, "idempotent: the second ADD reads 1 and writes nothing");
});

Deno.test("ADD with hostgate-local: proxy ARP stays off", async () => {
  const h = harness();
  const r = await invoke(h, "ADD");
  assert.equal(r.exitCode, 0, r.stdout);
  assert.equal(h.netlink.snapshot("").sysctls[KEY] ?? "0", "0");
  assert.equal(h.netlink.callsOf("setSysctl").some((c) => c.args[0] === KEY), false);
});
