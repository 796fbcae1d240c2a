/**
 * DEL when several things fail at once: every failure is reported in one CNI
 * error (the first one's code), and the IPAM release is attempted regardless.
 * @module
 */
import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { NetlinkError } from "../../system/netlink/mod.ts";
import { addNodeVeth, harness, invoke } from "../testing.ts";

const POD = "/run/netns/pod1";

Deno.test("DEL: the node's handle cannot be opened and IPAM fails: both in one error", async () => {
  const h = harness();
  await invoke(h, "ADD");
  h.netlink.failNext("open", new NetlinkError(24, "Cannot open netlink socket: too many files"));
  h.ipam.failNext("del", new CniError(CniCode.IoFailure, "Cannot release: disk gone"));
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], CniCode.NetlinkFailure, "the first failure's code");
  assert.match(String(r.json!["msg"]), /too many files.*; Cannot release: disk gone/);
  assert.equal(h.ipam.calls.filter((c) => c.op === "del").length, 1, "IPAM release attempted");
  // Without the node's handle the veth still goes, through the pod's end.
  assert.ok(!h.netlink.snapshot(POD).links.some((l) => l.name === "eth0"));
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"));
  const again = await invoke(h, "DEL");
  assert.equal(again.exitCode, 0, again.stdout);
});

Deno.test("DEL: a pod-side veth that cannot be deleted fails DEL after IPAM is released", async () => {
  const h = harness();
  addNodeVeth(h, { name: "renamed0", peerName: "eth0" });
  const pod = h.netlink.open(POD);
  const index = pod.getLink("eth0")!.index;
  pod.close();
  // The host side is not found by its name, so DEL looks in the pod; the kernel refuses.
  h.netlink.failNext("deleteLink", new NetlinkError(16, "Cannot delete link: busy (EBUSY)"));
  const r = await invoke(h, "DEL");
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], CniCode.NetlinkFailure);
  assert.match(String(r.json!["msg"]), /busy/);
  assert.equal(h.ipam.held.size, 0);
  assert.equal(h.netlink.snapshot(POD).links.find((l) => l.name === "eth0")?.index, index);
});
