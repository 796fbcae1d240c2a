import assert from "node:assert/strict";
import { CniError } from "../../errors.ts";
import { parseIppoolConfig } from "./config.ts";
import { DEFAULT_PLUGIN_KUBECONFIG } from "./kubeconfig.ts";

Deno.test("ippool config: defaults and every key", () => {
  assert.deepEqual(parseIppoolConfig({ type: "hostgate-ippool", pool: "default" }), {
    pool: "default",
    kubeconfig: DEFAULT_PLUGIN_KUBECONFIG,
    timeoutMs: 5000,
    routes: [],
  });
  const every = {
    pool: "p1",
    kubeconfig: "/k",
    nodeName: "node-a.example",
    timeoutMs: 300,
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.96.0.10"] },
  };
  assert.deepEqual(parseIppoolConfig({ type: "hostgate-ippool", ...every }), every);
});

Deno.test("ippool config: invalid values are code 7 naming the key", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{}, "ipam.pool"],
    [{ pool: "Bad_Name" }, "ipam.pool"],
    [{ pool: "p".repeat(64) }, "ipam.pool"],
    [{ pool: "p", kubeconfig: "rel/path" }, "ipam.kubeconfig"],
    [{ pool: "p", nodeName: "Node A" }, "ipam.nodeName"],
    [{ pool: "p", timeoutMs: 0 }, "ipam.timeoutMs"],
    [{ pool: "p", routes: [{ dst: "x" }] }, "ipam.routes[0].dst"],
  ];
  for (const [ipam, key] of cases) {
    assert.throws(
      () => parseIppoolConfig({ type: "hostgate-ippool", ...ipam }),
      (e: unknown) => e instanceof CniError && e.code === 7 && e.message.includes(key),
      key,
    );
  }
});
