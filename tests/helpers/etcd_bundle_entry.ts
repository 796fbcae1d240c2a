/**
 * Entry point bundled by tests/etcd_test.ts to prove the etcd datastore works
 * inside a `deno bundle` file (etcd3 reads its protos from disk while it
 * initializes; see src/datastore/etcd/load.ts). Registers one node against
 * the endpoint in argv[0] and prints what it stored and listed.
 * @module
 */
import { createDatastore } from "../../src/datastore/mod.ts";

const ds = await createDatastore({
  kind: "etcd",
  endpoints: Deno.args[0] ?? "",
  clusterCidr: "10.244.0.0/16",
  prefix: "/hgds/",
});
try {
  const node = await ds.register({ name: "bundled", addresses: ["192.168.17.1"] });
  await ds.start(() => {});
  const dirname = typeof (globalThis as { __dirname?: unknown }).__dirname;
  console.log(JSON.stringify({ node, nodes: ds.nodes(), dirname }));
} finally {
  await ds.close();
}
