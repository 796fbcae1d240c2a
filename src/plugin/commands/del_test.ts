import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { NetlinkError } from "../../system/netlink/mod.ts";
import { hostVethName } from "../names.ts";
import { settle } from "../../system/fake_clock.ts";
import { addNodeVeth, type Harness, harness, invoke } from "../testing.ts";

const POD = "/run/netns/pod1";

Deno.test("DEL: removes the veth and the reservation; a second DEL succeeds too", async () => {
  const h = harness();
  assert.equal((await invoke(h, "ADD")).exitCode, 0);
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 0, r.stdout);
  assert.equal(r.stdout, "");
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"));
  assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"));
  assert.equal(h.ipam.held.size, 0);
  const again = await invoke(h, "DEL");
  assert.equal(again.exitCode, 0, again.stdout);
  assert.equal(h.ipam.calls.filter((c) => c.op === "del").length, 2, "IPAM always released");
});

Deno.test("DEL: works without CNI_NETNS and opens only the node's handle", async () => {
  const h = harness();
  await invoke(h, "ADD");
  h.netlink.clearCalls();
  const r = await invoke(h, "DEL", { netns: null });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"));
  assert.deepEqual(h.netlink.callsOf("open").map((c) => c.netns), [""]);
  assert.equal(h.ipam.held.size, 0);
});

Deno.test("DEL: a vanished netns or link is fine", async () => {
  const h = harness();
  await invoke(h, "ADD");
  h.netlink.deleteNetns(POD);
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 0, r.stdout);
  assert.equal(h.ipam.held.size, 0);
  const never = await invoke(h, "DEL", { containerId: "never-added", netns: "/run/netns/gone" });
  assert.equal(never.exitCode, 0, never.stdout);
});

Deno.test("DEL: removes a pod-side veth when the host side is not found by name", async () => {
  const h = harness();
  addNodeVeth(h, { name: "renamed0", peerName: "eth0" });
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 0, r.stdout);
  assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"));
});

Deno.test("DEL: keeps going past a kernel error, releases IPAM, then fails", async () => {
  const h = harness();
  await invoke(h, "ADD");
  h.netlink.failNext("deleteLink", new NetlinkError(16, "Cannot delete link: busy (EBUSY)"));
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], CniCode.NetlinkFailure);
  assert.match(String(r.json!["msg"]), new RegExp(hostVethName("ctr1", "eth0")));
  assert.equal(h.ipam.held.size, 0, "IPAM released despite the kernel error");
});

Deno.test("DEL: an IPAM failure or a bad IPAM config is reported after the veth is gone", async () => {
  const faults: [string, number, (h: Harness) => void][] = [
    ["IPAM DEL fails", CniCode.IoFailure, (h) => {
      h.ipam.failNext("del", new CniError(CniCode.IoFailure, "Cannot release: disk gone"));
    }],
    ["IPAM config is bad", CniCode.InvalidNetworkConfig, (h) => {
      h.deps.ipam = () => {
        throw new CniError(CniCode.InvalidNetworkConfig, "Cannot parse ipam.subnet: bad");
      };
    }],
  ];
  for (const [what, code, inject] of faults) {
    const h = harness();
    await invoke(h, "ADD");
    inject(h);
    const r = await invoke(h, "DEL");
    assert.equal(r.exitCode, 1, what);
    assert.equal(r.json!["code"], code, what);
    assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"), what);
  }
});

Deno.test("DEL: uses the handle's async delete by name and releases IPAM meanwhile", async () => {
  const h = harness();
  await invoke(h, "ADD");
  const order: string[] = [];
  const open = h.netlink.open.bind(h.netlink);
  h.deps.netlink = {
    open: (netns?: string) => {
      const handle = open(netns);
      handle.deleteLinkByNameAsync = async (name: string) => {
        order.push(`delete ${name} started`);
        await settle(); // the kernel's RCU wait: other work runs meanwhile
        const link = handle.getLink(name);
        if (link) handle.deleteLink(link.index);
        order.push(`delete ${name} done`);
        return link !== undefined;
      };
      return handle;
    },
    monitorRoutes: (o) => h.netlink.monitorRoutes(o),
  };
  const released = h.ipam.del.bind(h.ipam);
  h.ipam.del = (owner) => {
    order.push("ipam released");
    return released(owner);
  };
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 0, r.stdout);
  const name = hostVethName("ctr1", "eth0");
  assert.deepEqual(order, [`delete ${name} started`, "ipam released", `delete ${name} done`]);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"));
  assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"), "peer went with it");
  assert.equal(h.ipam.held.size, 0);
});
