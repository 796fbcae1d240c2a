import assert from "node:assert/strict";
import { hostVethName } from "../names.ts";
import { harness, invoke, netconf } from "../testing.ts";

const POD = "/run/netns/pod1";

async function added(opts: { v6?: boolean; version?: string } = {}) {
  const h = harness({ ipam: opts.v6 ? { v4: "10.22.0", v6: "fd00:22::" } : {} });
  const conf = netconf({ cniVersion: opts.version ?? "1.1.0" });
  const r = await invoke(h, "ADD", { conf });
  assert.equal(r.exitCode, 0, r.stdout);
  return { h, conf: { ...conf, prevResult: r.json } };
}

Deno.test("CHECK: passes right after ADD (every version from 0.4.0), empty stdout", async () => {
  for (const version of ["0.4.0", "1.0.0", "1.1.0"]) {
    const { h, conf } = await added({ v6: true, version });
    const r = await invoke(h, "CHECK", { conf });
    assert.equal(r.exitCode, 0, `${version}: ${r.stdout}`);
    assert.equal(r.stdout, "");
    assert.ok(h.ipam.calls.some((c) => c.op === "check"));
  }
});

Deno.test("CHECK: below 0.4.0 is error 1; without prevResult error 7", async () => {
  const { h, conf } = await added();
  assert.equal(
    (await invoke(h, "CHECK", { conf: { ...conf, cniVersion: "0.3.1" } })).json!["code"],
    1,
  );
  const { prevResult: _p, ...bare } = conf;
  const r = await invoke(h, "CHECK", { conf: bare });
  assert.equal(r.json!["code"], 7);
  assert.match(String(r.json!["msg"]), /prevResult/);
});

Deno.test("CHECK: a changed MAC, a lost address, a lost route, a down link are error 103", async () => {
  const mutations: [string, (h: ReturnType<typeof harness>) => void][] = [
    ["mac", (h) => {
      const pod = h.netlink.open(POD);
      pod.setMac(pod.getLink("eth0")!.index, "02:de:ad:be:ef:00");
      pod.close();
    }],
    ["address", (h) => {
      const pod = h.netlink.open(POD);
      pod.deleteAddr({ linkIndex: pod.getLink("eth0")!.index, cidr: "fd00:22::2/64" });
      pod.close();
    }],
    ["route", (h) => {
      const pod = h.netlink.open(POD);
      const idx = pod.getLink("eth0")!.index;
      pod.deleteRoute({ family: 4, dst: "0.0.0.0/0", gateway: "10.22.0.1", linkIndex: idx });
      pod.close();
    }],
    ["down", (h) => {
      const pod = h.netlink.open(POD);
      pod.setLinkDown(pod.getLink("eth0")!.index);
      pod.close();
    }],
    ["host veth", (h) => {
      const host = h.netlink.open();
      const name = hostVethName("ctr1", "eth0");
      host.setLinkDown(host.getLink(name)!.index);
      host.close();
    }],
  ];
  for (const [what, mutate] of mutations) {
    const { h, conf } = await added({ v6: true });
    mutate(h);
    const r = await invoke(h, "CHECK", { conf });
    assert.equal(r.exitCode, 1, what);
    assert.equal(r.json!["code"], 103, `${what}: ${r.stdout}`);
  }
});

Deno.test("CHECK: a released reservation fails with the IPAM's code", async () => {
  const { h, conf } = await added();
  h.ipam.held.clear();
  const r = await invoke(h, "CHECK", { conf });
  assert.equal(r.exitCode, 1);
  assert.equal(r.json!["code"], 3);
});

Deno.test("CHECK: prevResult without this attachment's interface is 103", async () => {
  const { h, conf } = await added();
  const r = await invoke(h, "CHECK", { conf, ifname: "net1" });
  assert.equal(r.json!["code"], 103);
});
