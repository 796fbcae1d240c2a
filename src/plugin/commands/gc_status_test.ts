import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { hostVethName } from "../names.ts";
import { harness, invoke, netconf } from "../testing.ts";

const PODS = ["/run/netns/pod1", "/run/netns/pod2", "/run/netns/pod3"];

Deno.test("GC: releases stale reservations and removes stale host veths", async () => {
  const h = harness({ pods: PODS });
  for (const [i, netns] of PODS.entries()) {
    assert.equal((await invoke(h, "ADD", { containerId: `c${i}`, netns })).exitCode, 0);
  }
  // A half-made ADD (killed before setMaster) left an unattached veth.
  const orphan = hostVethName("killed", "eth0");
  const host = h.netlink.open();
  host.addVeth({ name: orphan, peerName: "eth9", peerNetns: PODS[0]! });
  // Not ours: a veth with another name must stay.
  host.addVeth({ name: "other0", peerName: "eth8", peerNetns: PODS[0]! });
  host.close();
  const conf = netconf({ "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }] });
  const r = await invoke(h, "GC", {
    conf,
    env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined },
  });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.deepEqual([...h.ipam.held.keys()], ["c1/eth0"]);
  const names = h.netlink.snapshot("").links.filter((l) => l.kind === "veth").map((l) => l.name);
  assert.deepEqual(names.sort(), [hostVethName("c1", "eth0"), "other0"].sort());
});

Deno.test("GC: the cni.dev/attachments spelling and an empty list (all stale)", async () => {
  const h = harness();
  await invoke(h, "ADD");
  const keep = netconf({ "cni.dev/attachments": [{ containerID: "ctr1", ifname: "eth0" }] });
  assert.equal((await invoke(h, "GC", { conf: keep })).exitCode, 0);
  assert.equal(h.ipam.held.size, 1);
  const none = netconf({ "cni.dev/valid-attachments": [] });
  assert.equal((await invoke(h, "GC", { conf: none })).exitCode, 0);
  assert.equal(h.ipam.held.size, 0);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "veth"));
});

Deno.test("GC and STATUS need cniVersion 1.1.0", async () => {
  const h = harness();
  for (const cmd of ["GC", "STATUS"]) {
    const r = await invoke(h, cmd, { conf: netconf({ cniVersion: "1.0.0" }) });
    assert.equal(r.exitCode, 1);
    assert.equal(r.json!["code"], 1);
  }
});

Deno.test("STATUS: 0 when IPAM can serve, 50 when it cannot", async () => {
  const h = harness({ ipam: { capacity: 1 } });
  const ok = await invoke(h, "STATUS", { env: { CNI_CONTAINERID: undefined } });
  assert.equal(ok.exitCode, 0, ok.stdout);
  assert.equal(ok.stdout, "");
  await invoke(h, "ADD");
  const full = await invoke(h, "STATUS");
  assert.equal(full.exitCode, 1);
  assert.equal(full.json!["code"], 50);
  assert.match(String(full.json!["msg"]), /Cannot serve ADD/);
  h.ipam.held.clear();
  h.ipam.failNext("status", new CniError(CniCode.IoFailure, "Cannot lock: read-only"));
  assert.equal((await invoke(h, "STATUS")).json!["code"], 50);
});
