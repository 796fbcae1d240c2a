import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeExec } from "../system/fake_exec.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { DelegatedIpam } from "./delegated.ts";
import { createIpam } from "./factory.ts";
import { IppoolIpam } from "./ippool/mod.ts";
import { LocalIpam } from "./local.ts";

function make(config: unknown, args = "") {
  const fs = new FakeFileSystem();
  const exec = new FakeExec();
  const ipam = createIpam({
    config,
    netName: "k8s-pod-network",
    env: { args, path: "/opt/cni/bin" },
    fs,
    exec,
    cniVersion: "1.1.0",
  });
  return { fs, exec, ipam };
}

Deno.test("hostgate-local: LocalIpam storing under dataDir/<network name>, CNI_ARGS IP= honoured", async () => {
  const { ipam, fs } = make(
    {
      name: "k8s-pod-network",
      ipam: { type: "hostgate-local", subnet: "10.22.0.0/24", dataDir: "/var/hg" },
    },
    "K8S_POD_NAMESPACE=ns;IP=10.22.0.42",
  );
  assert.ok(ipam instanceof LocalIpam);
  const r = await ipam.add({ containerId: "c1", ifname: "eth0" });
  assert.equal(r.ips[0]!.address, "10.22.0.42/24");
  assert.equal(fs.file("/var/hg/k8s-pod-network/10.22.0.42"), "c1\r\neth0");
});

Deno.test("other types are delegated; hostgate-ippool is built in, needs ipam.pool", () => {
  assert.ok(make({ ipam: { type: "host-local" } }).ipam instanceof DelegatedIpam);
  const { ipam, fs } = make({ ipam: { type: "hostgate-ippool", pool: "default" } });
  assert.ok(ipam instanceof IppoolIpam);
  assert.equal(fs.calls.length, 0, "the kubeconfig is read on first use, not here");
  assert.throws(
    () => make({ ipam: { type: "hostgate-ippool" } }),
    (e: unknown) =>
      e instanceof CniError && e.code === CniCode.InvalidNetworkConfig &&
      e.message.includes("ipam.pool"),
  );
});

Deno.test("a missing or broken ipam section is code 7 naming the key, with no file touched", () => {
  for (
    const [config, key] of [[null, "config"], [{}, "ipam"], [
      { ipam: { type: "hostgate-local" } },
      "ipam.ranges",
    ], [
      { ipam: { type: "hostgate-local", subnet: "10.0.0.0/24" }, runtimeConfig: { ips: [1] } },
      "runtimeConfig.ips[0]",
    ]] as const
  ) {
    const fs = new FakeFileSystem();
    assert.throws(
      () =>
        createIpam({
          config,
          netName: "n",
          env: {},
          fs,
          exec: new FakeExec(),
          cniVersion: "1.1.0",
        }),
      (e: unknown) => e instanceof CniError && e.code === 7 && e.message.includes(key),
    );
    assert.equal(fs.calls.length, 0);
  }
});
