import assert from "node:assert/strict";
import { ConfigError, datastoreOptions, parseConfig } from "../cli/mod.ts";
import { conflistIppool, renderConflist } from "./conflist.ts";

const BASE = { hostname: "node-a" };

function parse(argv: string[], env: Record<string, string> = {}) {
  return parseConfig(argv, { env, hostname: "node-a" });
}

Deno.test("config: --ipam defaults to local, ippool reads its env and defaults", () => {
  const local = parse(["run"]);
  assert.equal(local.ipam, "local");
  assert.equal(local.ippoolName, "default");
  assert.equal(conflistIppool(local), undefined);
  const cfg = parseConfig(["run", "--kubeconfig=/k/config"], {
    ...BASE,
    env: { HOSTGATE_IPAM: "ippool", HOSTGATE_IPPOOL: "blue" },
  });
  assert.equal(cfg.ipam, "ippool");
  assert.deepEqual(conflistIppool(cfg), {
    pool: "blue",
    kubeconfig: "/k/config",
    nodeName: "node-a",
  });
});

Deno.test("config: --ipam ippool prefers --ippool-kubeconfig for the plugin", () => {
  const cfg = parse(["run", "--ipam=ippool", "--ippool-kubeconfig=/etc/cni/net.d/hg-kc"], {
    KUBERNETES_SERVICE_HOST: "10.96.0.1",
    KUBERNETES_SERVICE_PORT: "443",
  });
  assert.equal(conflistIppool(cfg)?.kubeconfig, "/etc/cni/net.d/hg-kc");
});

Deno.test("config: --ipam ippool refuses other datastores, bad pool names, no kubeconfig", () => {
  assert.throws(
    () => parse(["run", "--ipam=ippool", "--datastore=etcd", "--kubeconfig=/k"]),
    (e: unknown) =>
      e instanceof ConfigError && /--ipam ippool needs --datastore kubernetes/.test(e.message),
  );
  assert.throws(
    () => parse(["run", "--ipam=ippool", "--datastore=file"]),
    (e: unknown) => e instanceof ConfigError && /not file/.test(e.message),
  );
  assert.throws(
    () => parse(["run", "--ipam=ippool", "--kubeconfig=/k", "--ippool-name=Bad_Name"]),
    (e: unknown) => e instanceof ConfigError && /--ippool-name/.test(e.message),
  );
  assert.throws(
    () => parse(["run", "--ipam=ippool"]),
    (e: unknown) => e instanceof ConfigError && /--ippool-kubeconfig/.test(e.message),
  );
  assert.throws(
    () => parse(["run", "--ipam=pool"]),
    (e: unknown) =>
      e instanceof ConfigError && /--ipam must be one of local, ippool/.test(e.message),
  );
});

Deno.test("conflist: ippool ipam section names pool, kubeconfig and node", () => {
  const text = renderConflist({
    name: "hostgate",
    bridge: "hostgate0",
    mtu: 1500,
    podCidrs: ["10.244.1.0/24"],
    ipamDir: "/somewhere/else",
    ippool: { pool: "default", kubeconfig: "/etc/cni/net.d/hostgate-kubeconfig", nodeName: "n1" },
  });
  assert.deepEqual(JSON.parse(text).plugins[0].ipam, {
    type: "hostgate-ippool",
    pool: "default",
    kubeconfig: "/etc/cni/net.d/hostgate-kubeconfig",
    nodeName: "n1",
  });
});

Deno.test("datastore options: ippool watches IPAllocations, local does not", () => {
  const log = { info: () => {} } as unknown as Parameters<typeof datastoreOptions>[1];
  const on = datastoreOptions(parse(["run", "--ipam=ippool", "--kubeconfig=/k"]), log);
  const off = datastoreOptions(parse(["run"]), log);
  assert.equal(on.kind === "kubernetes" && on.watchAllocations, true);
  assert.equal(off.kind === "kubernetes" && off.watchAllocations, false);
});
