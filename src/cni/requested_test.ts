import assert from "node:assert/strict";
import { CniCode } from "../errors.ts";
import { parseCniArgs } from "./args.ts";
import { parseConfArgs, parseRuntimeConfig } from "./capabilities.ts";
import { requestedIps, requestedIpsOf } from "./requested.ts";
import { failureOf } from "./testing.ts";

Deno.test("requestedIps: CNI_ARGS, then args.cni.ips, then runtimeConfig.ips, canonical, unique", () => {
  const ips = requestedIps({
    cniArgs: parseCniArgs("IP=10.0.0.5,FD00::5;K8S_POD_NAME=x"),
    args: parseConfArgs({ cni: { ips: ["10.0.0.5/24", "10.2.0.1"] } }),
    runtime: parseRuntimeConfig({ ips: ["10.1.0.7/16", "fd00:0::5"] }),
  });
  assert.deepEqual(ips, ["10.0.0.5", "fd00::5", "10.2.0.1", "10.1.0.7"]);
  assert.deepEqual(
    requestedIps({ cniArgs: parseCniArgs(""), args: { ips: [] }, runtime: { ips: [] } }),
    [],
  );
});

Deno.test("requestedIpsOf reads a whole config and raw CNI_ARGS the same way", () => {
  assert.deepEqual(
    requestedIpsOf({
      args: { cni: { ips: ["10.0.0.6"] } },
      runtimeConfig: { ips: ["10.0.0.7/24"] },
    }, "IP=10.0.0.5"),
    ["10.0.0.5", "10.0.0.6", "10.0.0.7"],
  );
  assert.deepEqual(requestedIpsOf({}, undefined), []);
});

Deno.test("requestedIpsOf: bad CNI_ARGS is code 4, a bad config value code 7 naming the field", () => {
  assert.equal(failureOf(() => requestedIpsOf({}, "IP=10.0.0.300"))?.code, 4);
  const cases: [Record<string, unknown>, string][] = [
    [{ runtimeConfig: { ips: ["10.0.0.1", "nope"] } }, "runtimeConfig.ips[1]"],
    [{ runtimeConfig: { ips: [1] } }, "runtimeConfig.ips[0]"],
    [{ runtimeConfig: { ips: ["10.0.0.1/99"] } }, "runtimeConfig.ips[0]"],
    [{ runtimeConfig: { ips: "10.0.0.1" } }, "runtimeConfig.ips"],
    [{ args: { cni: { ips: "10.0.0.1" } } }, "args.cni.ips"],
    [{ args: { cni: { ips: [null] } } }, "args.cni.ips[0]"],
    [{ args: { cni: [] } }, "args.cni"],
    [{ args: 5 }, "args"],
  ];
  for (const [config, key] of cases) {
    const f = failureOf(() => requestedIpsOf(config, ""));
    assert.equal(f?.code, CniCode.InvalidNetworkConfig, JSON.stringify(config));
    assert.ok(f!.msg.startsWith(`Cannot parse config: ${key} `), f!.msg);
  }
});
