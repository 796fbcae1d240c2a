import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { parseCniArgs, requestedIps } from "./request.ts";

Deno.test("parseCniArgs splits K=V pairs and refuses malformed ones with code 4", () => {
  assert.deepEqual(
    [...parseCniArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;IP=10.0.0.5")],
    [["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", "ns"], ["K8S_POD_NAME", "web-0"], [
      "IP",
      "10.0.0.5",
    ]],
  );
  assert.equal(parseCniArgs(undefined).size, 0);
  assert.equal(parseCniArgs("A=b=c").get("A"), "b=c");
  for (const bad of ["novalue", "=x", "A=1;oops"]) {
    assert.throws(
      () => parseCniArgs(bad),
      (e: unknown) => e instanceof CniError && e.code === CniCode.InvalidEnvironment,
    );
  }
});

Deno.test("requestedIps merges CNI_ARGS IP=, args.cni.ips and runtimeConfig.ips, canonical, unique", () => {
  assert.deepEqual(
    requestedIps({
      cniArgs: "IP=10.0.0.5,FD00::5;K8S_POD_NAME=x",
      config: { args: { cni: { ips: ["10.0.0.5/24"] } }, runtimeConfig: { ips: ["10.1.0.7/16"] } },
    }),
    ["10.0.0.5", "fd00::5", "10.1.0.7"],
  );
  assert.deepEqual(requestedIps({ config: {} }), []);
});

Deno.test("requestedIps: bad CNI_ARGS IP is code 4, bad config ips code 7 naming the key", () => {
  assert.throws(
    () => requestedIps({ config: {}, cniArgs: "IP=10.0.0.300" }),
    (e: unknown) => e instanceof CniError && e.code === 4,
  );
  assert.throws(
    () => requestedIps({ config: { runtimeConfig: { ips: ["10.0.0.1", "nope"] } } }),
    (e: unknown) =>
      e instanceof CniError && e.code === 7 && e.message.includes("runtimeConfig.ips[1]"),
  );
  assert.throws(
    () => requestedIps({ config: { args: { cni: { ips: "10.0.0.1" } } } }),
    (e: unknown) => e instanceof CniError && e.code === 7 && e.message.includes("args.cni.ips"),
  );
});
