/**
 * A delegated IPAM plugin that cannot be spawned, or whose result is odd:
 * vanished between lookup and exec (code 7), spawn refused (code 5), and
 * result gateways and route gateways that are not addresses (code 6).
 * @module
 */
import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeExec } from "../system/fake_exec.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { DelegatedIpam, parseIpamResult } from "./delegated.ts";
import { IpamPluginNotFoundError } from "./errors.ts";

function ipam(spawnError: Error) {
  const exec = new FakeExec([{ reply: () => Promise.reject(spawnError) }]);
  return new DelegatedIpam({
    plugin: "host-local",
    config: { cniVersion: "1.0.0", name: "net1", type: "hostgate", ipam: { type: "host-local" } },
    cniVersion: "1.0.0",
    env: { path: ["/opt/cni/bin"] },
    fs: new FakeFileSystem({ files: { "/opt/cni/bin/host-local": "#!bin" } }),
    exec,
  });
}

const owner = { containerId: "c1", ifname: "eth0" };

Deno.test("delegated IPAM: a binary gone by exec time is code 7; a refused spawn is code 5", async () => {
  await assert.rejects(
    ipam(new Deno.errors.NotFound("No such file or directory (os error 2)")).add(owner),
    (e: unknown) => {
      assert.ok(e instanceof IpamPluginNotFoundError, String(e));
      assert.equal(e.code, CniCode.InvalidNetworkConfig);
      return true;
    },
  );
  await assert.rejects(
    ipam(new Deno.errors.PermissionDenied("Permission denied (os error 13)")).add(owner),
    (e: unknown) => {
      assert.ok(e instanceof CniError, String(e));
      assert.equal(e.code, CniCode.IoFailure);
      assert.equal(
        e.message,
        "Cannot run IPAM plugin host-local: Permission denied (os error 13)",
      );
      return true;
    },
  );
});

Deno.test("delegated result: a gateway or route gw that is not an address is code 6", () => {
  const decode = (v: unknown) => () => parseIpamResult(v, "p");
  const code6 = (e: unknown) => e instanceof CniError && e.code === CniCode.DecodeFailure;
  assert.throws(
    decode({ cniVersion: "1.0.0", ips: [{ address: "10.1.0.5/16", gateway: 7 }] }),
    code6,
  );
  assert.throws(
    decode({ cniVersion: "1.0.0", ips: [], routes: [{ dst: "10.0.0.0/8", gw: "nope" }] }),
    code6,
  );
  assert.deepEqual(
    parseIpamResult({
      cniVersion: "1.0.0",
      ips: [{ address: "10.1.0.5/16", gateway: null }],
      routes: [{ dst: "10.0.0.0/8", gw: "" }],
    }),
    { ips: [{ family: 4, address: "10.1.0.5/16" }], routes: [{ dst: "10.0.0.0/8" }] },
    "null and empty gateways mean none",
  );
});
