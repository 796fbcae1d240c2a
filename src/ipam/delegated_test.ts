import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeExec } from "../system/fake_exec.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { DELEGATE_INTERNAL_ERROR, DelegatedIpam, parseIpamResult } from "./delegated.ts";
import { IpamPluginNotFoundError, IpamUnavailableError } from "./errors.ts";

const NETCONF = {
  cniVersion: "1.0.0",
  name: "net1",
  type: "hostgate",
  ipam: { type: "host-local", subnet: "10.22.0.0/24" },
};

function setup(
  opts: { cniVersion?: string; reply?: ConstructorParameters<typeof FakeExec>[0] } = {},
) {
  const fs = new FakeFileSystem({
    files: { "/opt/cni/bin/host-local": "#!bin" },
    dirs: ["/usr/lib/cni"],
  });
  const exec = new FakeExec(opts.reply ?? []);
  const ipam = new DelegatedIpam({
    plugin: "host-local",
    config: NETCONF,
    cniVersion: opts.cniVersion ?? "1.0.0",
    env: {
      netns: "/var/run/netns/p1",
      args: "K8S_POD_NAME=web;IP=10.22.0.9",
      path: "/usr/lib/cni::/opt/cni/bin",
    },
    fs,
    exec,
  });
  return { fs, exec, ipam };
}

const RESULT_1_0 = {
  cniVersion: "1.0.0",
  ips: [{ address: "10.22.0.9/24", gateway: "10.22.0.1" }, { address: "FD00::9/64" }],
  routes: [{ dst: "0.0.0.0/0" }],
  dns: { nameservers: ["10.96.0.10"] },
};

Deno.test("ADD runs the binary found in CNI_PATH with the CNI environment and the whole config", async () => {
  const { ipam, exec } = setup({
    reply: [{ match: "/opt/cni/bin/host-local", reply: { stdout: JSON.stringify(RESULT_1_0) } }],
  });
  const r = await ipam.add({ containerId: "c1", ifname: "eth0" });
  assert.deepEqual(r, {
    ips: [
      { family: 4, address: "10.22.0.9/24", gateway: "10.22.0.1" },
      { family: 6, address: "fd00::9/64" },
    ],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  });
  assert.equal(exec.calls.length, 1);
  const call = exec.calls[0]!;
  assert.deepEqual(call.argv, ["/opt/cni/bin/host-local"]);
  assert.deepEqual(call.opts.env, {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "/var/run/netns/p1",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "K8S_POD_NAME=web;IP=10.22.0.9",
    CNI_PATH: "/usr/lib/cni:/opt/cni/bin",
  });
  assert.deepEqual(JSON.parse(call.opts.stdin!), NETCONF);
});

Deno.test("the plugin's error JSON is passed through with its code", async () => {
  const err = { cniVersion: "1.0.0", code: 11, msg: "try later", details: "busy" };
  const { ipam } = setup({ reply: [{ reply: { code: 1, stdout: JSON.stringify(err) } }] });
  await assert.rejects(ipam.add({ containerId: "c1", ifname: "eth0" }), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.deepEqual([e.code, e.message, e.details], [11, "try later", "busy"]);
    return true;
  });
});

Deno.test("a failure without error JSON is code 999 with stderr; bad result JSON is code 6", async () => {
  const { ipam } = setup({
    reply: [{ times: 1, reply: { code: 2, stderr: "panic: boom" } }, {
      reply: { stdout: "{not json" },
    }],
  });
  await assert.rejects(ipam.del({ containerId: "c1", ifname: "eth0" }), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.code, DELEGATE_INTERNAL_ERROR);
    assert.match(e.message, /Cannot DEL with IPAM plugin host-local: exit 2/);
    assert.equal(e.details, "panic: boom");
    return true;
  });
  await assert.rejects(
    ipam.add({ containerId: "c1", ifname: "eth0" }),
    (e: unknown) => e instanceof CniError && e.code === CniCode.DecodeFailure,
  );
});

Deno.test("a plugin missing from CNI_PATH: code 7 for ADD, IpamUnavailableError (50) for STATUS", async () => {
  const exec = new FakeExec();
  const ipam = new DelegatedIpam({
    plugin: "dhcp",
    config: NETCONF,
    cniVersion: "1.1.0",
    env: { path: ["/opt/cni/bin"] },
    fs: new FakeFileSystem(),
    exec,
  });
  await assert.rejects(ipam.add({ containerId: "c", ifname: "eth0" }), (e: unknown) => {
    assert.ok(e instanceof IpamPluginNotFoundError);
    assert.equal(e.code, CniCode.InvalidNetworkConfig);
    assert.match(e.message, /Cannot find IPAM plugin dhcp: not in CNI_PATH \(\/opt\/cni\/bin\)/);
    return true;
  });
  await assert.rejects(
    ipam.status(),
    (e: unknown) => e instanceof IpamUnavailableError && e.code === 50,
  );
  assert.equal(exec.calls.length, 0);
});

Deno.test("GC sends cni.dev/valid-attachments; GC/STATUS skipped below 1.1.0, CHECK below 0.4.0", async () => {
  const { ipam, exec } = setup({ cniVersion: "1.1.0", reply: [{ reply: {} }] });
  await ipam.gc([{ containerId: "c1", ifname: "eth0" }]);
  await ipam.status();
  await ipam.check({ containerId: "c1", ifname: "eth0" }, []);
  assert.deepEqual(exec.calls.map((c) => c.opts.env!.CNI_COMMAND), ["GC", "STATUS", "CHECK"]);
  const gcIn = JSON.parse(exec.calls[0]!.opts.stdin!);
  assert.deepEqual(gcIn["cni.dev/valid-attachments"], [{ containerID: "c1", ifname: "eth0" }]);
  assert.equal(gcIn.cniVersion, "1.1.0");

  const old = setup({ cniVersion: "0.3.1", reply: [{ reply: {} }] });
  await old.ipam.gc([]);
  await old.ipam.status();
  await old.ipam.check({ containerId: "c1", ifname: "eth0" }, []);
  assert.equal(old.exec.calls.length, 0);
});

Deno.test("results of every version parse into one shape", () => {
  const v020 = {
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.5/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
    ip6: { ip: "fd00::5/64" },
  };
  assert.deepEqual(parseIpamResult(v020), {
    ips: [{ family: 4, address: "10.1.0.5/16", gateway: "10.1.0.1" }, {
      family: 6,
      address: "fd00::5/64",
    }],
    routes: [{ dst: "0.0.0.0/0" }],
  });
  const v031 = {
    cniVersion: "0.3.1",
    ips: [{ version: "4", address: "10.1.0.5/16", gateway: "10.1.0.1", interface: 0 }],
    routes: [{ dst: "10.96.0.0/12", gw: "10.1.0.1" }],
    dns: {},
  };
  assert.deepEqual(parseIpamResult(v031), {
    ips: [{ family: 4, address: "10.1.0.5/16", gateway: "10.1.0.1" }],
    routes: [{ dst: "10.96.0.0/12", gw: "10.1.0.1" }],
  });
  for (
    const bad of [null, [], { ips: [{ address: "10.1.0.5" }] }, {
      ips: [{ address: "10.1.0.5/16", gateway: "x" }],
    }, { ips: [], routes: [{ dst: "nope" }] }]
  ) {
    assert.throws(
      () => parseIpamResult(bad, "p"),
      (e: unknown) => e instanceof CniError && e.code === CniCode.DecodeFailure,
    );
  }
});
