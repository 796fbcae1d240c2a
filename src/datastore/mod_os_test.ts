/**
 * The factory's real paths: a file store in a temp dir, and the etcd and
 * Kubernetes backends imported on demand (their npm clients read the
 * environment and, for etcd3, its proto files as they load).
 * @module
 */
import assert from "node:assert/strict";
import { createDatastore, FileDatastore } from "./mod.ts";
import { TEMP_DIR, TEMP_ROOT } from "../system/os_testing.ts";

/** Loading etcd3 and grpc-js: they read the environment and etcd3's proto files. */
const NPM_CLIENT: { permissions: Deno.PermissionOptionsObject } = {
  permissions: { env: true, read: true },
};

Deno.test("createDatastore: file", TEMP_DIR, async () => {
  const dir = await Deno.makeTempDir({ prefix: "hgds-mod-" });
  try {
    const ds = await createDatastore({ kind: "file", dir, clusterCidr: "10.244.0.0/16" });
    assert.ok(ds instanceof FileDatastore);
    assert.equal(ds.kind, "file");
    const n = await ds.register({ name: "n1", addresses: ["10.0.0.1"] });
    assert.deepEqual(n.podCidrs, ["10.244.0.0/24"]);
    await ds.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "createDatastore: etcd is built lazily and contacts nothing before use",
  NPM_CLIENT,
  async () => {
    const ds = await createDatastore({
      kind: "etcd",
      endpoints: "http://127.0.0.1:1",
      clusterCidr: "10.244.0.0/16,fd00:10:244::/56",
    });
    assert.equal(ds.kind, "etcd");
    assert.deepEqual(ds.nodes(), []);
    assert.equal(ds.health().connected, false);
    await ds.close();
    await assert.rejects(
      createDatastore({ kind: "etcd", endpoints: "", clusterCidr: "10.244.0.0/16" }),
      /Cannot create etcd datastore: no endpoints/,
    );
    await assert.rejects(
      createDatastore({ kind: "etcd", endpoints: "http://x:1", clusterCidr: "bad" }),
      /Cannot parse CIDR/,
    );
  },
);

Deno.test(
  "createDatastore: kubernetes is imported on demand and gets the mapped options",
  { permissions: { env: true, read: [TEMP_ROOT], write: [TEMP_ROOT] } },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "hgds-mod-" });
    try {
      const kubeconfigPath = `${dir}/kubeconfig`;
      await Deno.writeTextFile(
        kubeconfigPath,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "c", cluster: { server: "http://127.0.0.1:1" } }],
          users: [{ name: "u", user: {} }],
          contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "hg" } }],
          "current-context": "x",
        }),
      );
      const ds = await createDatastore({
        kind: "kubernetes",
        kubeconfigPath,
        clusterCidr: "10.244.0.0/16",
        log: () => {},
      });
      assert.equal(ds.kind, "kubernetes");
      assert.equal(ds.namespace, "hg");
      await ds.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
