import assert from "node:assert/strict";
import { CniCode } from "../errors.ts";
import { hostVethName } from "./names.ts";
import { DEFAULT_STATE_DIR } from "./pod_record.ts";
import { ifbName } from "./shaping/mod.ts";
import { harness, invoke, netconf } from "./testing.ts";

const T = "inet hostgate";
const PODS = ["/run/netns/pod1", "/run/netns/pod2"];
const RT = {
  portMappings: [{ HostPort: 8080, ContainerPort: 80, Protocol: "TCP" }],
  bandwidth: {
    ingressRate: 1_000_000,
    ingressBurst: 80_000,
    egressRate: 2_000_000,
    egressBurst: 80_000,
  },
};
const conf = (runtimeConfig: unknown = RT) => netconf({ runtimeConfig });
const links = (h: ReturnType<typeof harness>) => h.netlink.snapshot("").links.map((l) => l.name);
const record = (id: string) => `${DEFAULT_STATE_DIR}/hgnet/${hostVethName(id, "eth0")}.json`;

Deno.test("features: ADD maps the port, shapes both ways, writes the record; DEL undoes all, twice", async () => {
  const h = harness({ pods: PODS });
  const add = await invoke(h, "ADD", { conf: conf() });
  assert.equal(add.exitCode, 0, add.stdout);
  assert.equal(h.nft.elements(T, "hostport-any4").get("tcp . 8080"), "10.22.0.2 . 80");
  const veth = hostVethName("ctr1", "eth0");
  assert.ok(links(h).includes(ifbName(veth)));
  assert.deepEqual(h.tc.batches[0]!.map((c) => c.slice(0, 4).join(" ")), [
    `qdisc add dev ${veth}`,
    `qdisc add dev ${ifbName(veth)}`,
    `qdisc add dev ${veth}`,
    `filter add dev ${veth}`,
  ]);
  const rec = JSON.parse(h.fs.file(record("ctr1"))!);
  assert.deepEqual(rec.portMappings, [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
  assert.equal(rec.bandwidth.egress.rate, 2_000_000);
  const check = await invoke(h, "CHECK", { conf: { ...conf(), prevResult: add.json } });
  assert.equal(check.exitCode, 0, check.stdout);
  for (let i = 0; i < 2; i++) {
    const del = await invoke(h, "DEL", { conf: conf() });
    assert.equal(del.exitCode, 0, del.stdout);
  }
  assert.equal(h.nft.elements(T, "hostport-any4").size, 0);
  assert.ok(!links(h).includes(ifbName(veth)));
  assert.equal(h.fs.file(record("ctr1")), undefined);
});

Deno.test("features: a tc failure rolls back mapping, IFB, veth and address", async () => {
  const h = harness();
  h.tc.failNext();
  const r = await invoke(h, "ADD", { conf: conf() });
  assert.equal(r.exitCode, 1);
  assert.match(String(r.json!["msg"]), /Cannot apply bandwidth limits/);
  assert.equal(h.nft.elements(T, "hostport-any4").size, 0);
  assert.equal(h.nft.elements(T, "hostport-snat4").size, 0);
  assert.deepEqual(links(h).filter((n) => n.startsWith("h") && n !== "hg-br0"), []);
  assert.equal(h.ipam.held.size, 0);
  assert.equal(h.fs.file(record("ctr1")), undefined);
});

Deno.test("features: the same hostPort twice is 104; the first pod keeps it", async () => {
  const h = harness({ pods: PODS });
  assert.equal((await invoke(h, "ADD", { conf: conf(), containerId: "a" })).exitCode, 0);
  const r = await invoke(h, "ADD", { conf: conf(), containerId: "b", netns: PODS[1] });
  assert.equal(r.json!["code"], CniCode.PortInUse, r.stdout);
  assert.equal(h.nft.elements(T, "hostport-any4").get("tcp . 8080"), "10.22.0.2 . 80");
  assert.ok(!links(h).includes(hostVethName("b", "eth0")));
  assert.deepEqual([...h.ipam.held.keys()], ["a/eth0"]);
});

Deno.test("features: GC drops mappings, IFBs and records of pods not kept", async () => {
  const h = harness({ pods: PODS });
  await invoke(h, "ADD", { conf: conf(), containerId: "a" });
  const other = { ...RT, portMappings: [{ hostPort: 9090, containerPort: 80 }] };
  await invoke(h, "ADD", { conf: conf(other), containerId: "b", netns: PODS[1] });
  const gc = await invoke(h, "GC", {
    conf: netconf({ "cni.dev/valid-attachments": [{ containerID: "a", ifname: "eth0" }] }),
    env: { CNI_CONTAINERID: undefined, CNI_IFNAME: undefined },
  });
  assert.equal(gc.exitCode, 0, gc.stdout);
  assert.deepEqual([...h.nft.elements(T, "hostport-any4").keys()], ["tcp . 8080"]);
  assert.ok(links(h).includes(ifbName(hostVethName("a", "eth0"))));
  assert.ok(!links(h).includes(ifbName(hostVethName("b", "eth0"))));
  assert.ok(h.fs.file(record("a")));
  assert.equal(h.fs.file(record("b")), undefined);
});

Deno.test("features: bad values are code 7 naming the field; nothing is made", async () => {
  const h = harness();
  const bad = [
    [{ bandwidth: { ingressRate: 1000 } }, /runtimeConfig\.bandwidth\.ingressBurst/],
    [{ portMappings: [{ hostPort: 0, containerPort: 80 }] }, /portMappings\[0\]\.hostPort/],
    [{ portMappings: [{ hostPort: 1, containerPort: 80, hostIP: "fd00::1" }] }, /hostIP/],
  ] as const;
  for (const [rt, re] of bad) {
    const r = await invoke(h, "ADD", { conf: conf(rt) });
    assert.equal(r.json!["code"], CniCode.InvalidNetworkConfig, r.stdout);
    assert.match(String(r.json!["msg"]), re);
  }
  assert.equal(h.ipam.held.size, 0);
  assert.equal(h.nft.payloads.length, 0);
});

Deno.test("features: a plain pod loads no record and runs no nft or tc", async () => {
  const h = harness();
  assert.equal((await invoke(h, "ADD")).exitCode, 0);
  assert.equal((await invoke(h, "DEL")).exitCode, 0);
  assert.equal(h.nft.payloads.length + h.nft.store.calls.length + h.tc.batches.length, 0);
});
