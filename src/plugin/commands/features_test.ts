/**
 * hostPort mappings and bandwidth limits through the plugin's commands on
 * fakes (netlink, nft, tc, conntrack, files): ADD sets them up and records
 * them, CHECK confirms them, DEL and GC undo exactly them, and a failing step
 * leaves nothing behind.
 * @module
 */
import assert from "node:assert/strict";
import { CniCode } from "../../errors.ts";
import { hostVethName } from "../names.ts";
import { ifbName } from "../shaping/mod.ts";
import { harness, invoke, netconf } from "../testing.ts";

const T = "inet hostgate";
const RUNTIME = {
  portMappings: [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 5353, containerPort: 53, protocol: "udp" },
  ],
  bandwidth: {
    ingressRate: 1_000_000,
    ingressBurst: 80_000,
    egressRate: 2_000_000,
    egressBurst: 16_000,
  },
};
const RECORD = `/run/hostgate/pods/hgnet/${hostVethName("ctr1", "eth0")}.json`;

async function added(h = harness({ pods: ["/run/netns/pod1", "/run/netns/pod2"] })) {
  const conf = netconf({ runtimeConfig: RUNTIME });
  const r = await invoke(h, "ADD", { conf });
  assert.equal(r.exitCode, 0, r.stdout);
  return { h, conf: { ...conf, prevResult: r.json } };
}

Deno.test("features: ADD maps ports, shapes, records; CHECK confirms; DEL undoes all of it", async () => {
  const { h, conf } = await added();
  const veth = hostVethName("ctr1", "eth0");
  assert.equal(h.nft.elements(T, "hostport-any4").get("tcp . 8080"), "10.22.0.2 . 80");
  assert.ok(h.netlink.snapshot("").links.some((l) => l.name === ifbName(veth)), "the pod's IFB");
  assert.equal(h.tc.batches.length, 1);
  const rec = JSON.parse(h.fs.file(RECORD)!);
  assert.deepEqual([rec.hostVeth, rec.podIps, rec.portMappings.length], [
    veth,
    ["10.22.0.2/24"],
    2,
  ]);
  assert.equal((await invoke(h, "CHECK", { conf })).exitCode, 0);
  // The mappings' table removed behind the plugin's back: CHECK says so.
  h.nft.deleteTable(T);
  const bad = await invoke(h, "CHECK", { conf });
  assert.equal(bad.exitCode, 1);
  assert.equal(bad.json!["code"], CniCode.CheckFailed);
  const del = await invoke(h, "DEL", { conf });
  assert.equal(del.exitCode, 0, del.stdout);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.name === ifbName(veth)));
  assert.equal(h.fs.file(RECORD), undefined, "the record goes last");
  assert.equal((await invoke(h, "DEL", { conf })).exitCode, 0, "DEL twice is fine");
});

Deno.test("features: a hostPort another pod holds fails ADD with 104 and leaves nothing", async () => {
  const { h } = await added();
  const r = await invoke(h, "ADD", {
    conf: netconf({ runtimeConfig: { portMappings: [RUNTIME.portMappings[0]] } }),
    containerId: "ctr2",
    netns: "/run/netns/pod2",
  });
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], CniCode.PortInUse);
  const veth2 = hostVethName("ctr2", "eth0");
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.name === veth2), "its veth removed");
  assert.equal(h.fs.file(`/run/hostgate/pods/hgnet/${veth2}.json`), undefined);
  assert.equal(h.nft.elements(T, "hostport-any4").get("tcp . 8080"), "10.22.0.2 . 80");
});

Deno.test("features: a failing tc batch fails ADD and takes the port mappings back", async () => {
  const h = harness();
  h.tc.failNext();
  const r = await invoke(h, "ADD", { conf: netconf({ runtimeConfig: RUNTIME }) });
  assert.equal(r.exitCode, 1);
  assert.equal(h.nft.elements(T, "hostport-any4").size, 0);
  assert.equal(h.fs.file(RECORD), undefined);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "ifb"));
});

Deno.test("features: GC removes mappings, IFBs and records of attachments not kept", async () => {
  const { h } = await added();
  const r = await invoke(h, "GC", {
    conf: netconf({ "cni.dev/valid-attachments": [] }),
    env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined },
  });
  assert.equal(r.exitCode, 0, r.stdout);
  assert.equal(h.nft.elements(T, "hostport-any4").size, 0);
  assert.ok(!h.netlink.snapshot("").links.some((l) => l.kind === "ifb"));
  assert.equal(h.fs.file(RECORD), undefined);
});

Deno.test("features: DEL that cannot remove the mappings fails and keeps the record for a retry", async () => {
  const { h, conf } = await added();
  h.nft.failNextApply();
  const r = await invoke(h, "DEL", { conf });
  assert.equal(r.exitCode, 1);
  assert.ok(h.fs.file(RECORD) !== undefined, "the record still says what to undo");
  assert.equal((await invoke(h, "DEL", { conf })).exitCode, 0);
  assert.equal(h.nft.elements(T, "hostport-any4").size, 0);
  assert.equal(h.fs.file(RECORD), undefined);
});

Deno.test("features: GC that cannot collect the mappings fails and keeps every record", async () => {
  const { h } = await added();
  h.nft.failNextApply();
  const gc = () =>
    invoke(h, "GC", {
      conf: netconf({ "cni.dev/valid-attachments": [] }),
      env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined },
    });
  const r = await gc();
  assert.equal(r.exitCode, 1);
  assert.match(String(r.json!["msg"]), /Cannot collect hostPort rules/);
  assert.ok(h.fs.file(RECORD) !== undefined);
  assert.equal((await gc()).exitCode, 0);
  assert.equal(h.fs.file(RECORD), undefined);
});
