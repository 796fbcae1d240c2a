import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { FakeFileSystem } from "../../system/fake_fs.ts";
import { createIppoolIpam } from "./create.ts";
import { FakeKube } from "./fake_kube.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { parseAllocation } from "./objects.ts";

Deno.test("createIppoolIpam: config checked at once, kubeconfig read on first use, node from the host name", async () => {
  const kube = new FakeKube();
  kube.put("ippools", { metadata: { name: "p" }, spec: { cidr: "10.51.0.0/24" } });
  const fs = new FakeFileSystem();
  const opts = {
    ipam: { type: "hostgate-ippool", pool: "p", kubeconfig: "/etc/cni/net.d/hg-kc" },
    fs,
    transport: kube.transport,
    hostname: () => "node-a",
  };
  assert.throws(
    () => createIppoolIpam({ ...opts, ipam: { ...opts.ipam, kubeconfig: "relative" } }),
    (e: unknown) => e instanceof CniError && e.code === CniCode.InvalidNetworkConfig,
  );
  const ipam = createIppoolIpam(opts); // the kubeconfig does not exist yet: nothing read
  assert.deepEqual(fs.calls, []);
  await assert.rejects(ipam.add({ containerId: "c1", ifname: "eth0" }), /hg-kc/);
  fs.setFile("/etc/cni/net.d/hg-kc", renderKubeconfig({ server: "http://fake", token: "t" }));
  // One plugin process, one command: a fresh backend, as the next invocation would build.
  const r = await createIppoolIpam(opts).add({ containerId: "c1", ifname: "eth0" });
  assert.match(r.ips[0]!.address, /^10\.51\.0\.\d+\/24$/);
  const [a] = kube.list("ipallocations").map((o) => parseAllocation(o)!);
  assert.equal(a!.node, "node-a");
  assert.equal(a!.containerId, "c1");
});
