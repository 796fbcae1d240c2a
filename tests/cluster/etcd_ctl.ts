/**
 * Admin actions on the simulated cluster's etcd, run INSIDE the router
 * namespace (where etcd listens), so nothing in the root namespace ever
 * connects toward the nodes:
 *
 *   ip netns exec <rt> deno run -A tests/cluster/etcd_ctl.ts remove \
 *     --endpoints=http://172.30.0.1:2379 --cluster-cidr=10.244.0.0/16 --name=n3
 *
 * `remove` deletes a node's entry and frees its subnets (EtcdDatastore.removeNode);
 * `nodes` prints the stored node list; `put --key=K --value=V` writes a raw
 * value (or `--value-file=F`), as a hostile or broken writer would. Prints one
 * JSON line; exit 0 on success.
 * @module
 */
import { parseArgs } from "node:util";
import { Etcd3 } from "etcd3";
import { EtcdDatastore } from "../../src/datastore/etcd/datastore.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    endpoints: { type: "string" },
    "cluster-cidr": { type: "string", default: "10.244.0.0/16" },
    prefix: { type: "string", default: "/hostgate/" },
    name: { type: "string" },
    key: { type: "string" },
    value: { type: "string" },
    "value-file": { type: "string" },
  },
});
const action = positionals[0];
if (!values.endpoints || !["remove", "nodes", "put"].includes(action ?? "")) {
  console.error(
    "Usage: etcd_ctl.ts remove|nodes|put --endpoints=URL [--name=NODE] [--key=K --value=V]",
  );
  Deno.exit(2);
}
if (action === "put") {
  const client = new Etcd3({ hosts: values.endpoints.split(",") });
  try {
    const value = values["value-file"]
      ? await Deno.readTextFile(values["value-file"])
      : values.value ?? "";
    await client.put(values.key ?? "").value(value);
    console.log(JSON.stringify({ put: values.key }));
  } finally {
    client.close();
  }
  Deno.exit(0);
}
const ds = new EtcdDatastore({
  endpoints: values.endpoints,
  clusterCidr: values["cluster-cidr"],
  prefix: values.prefix,
  log: () => {},
});
let code = 0;
try {
  if (action === "remove") {
    if (!values.name) throw new Error("Cannot remove a node: --name missing");
    console.log(JSON.stringify({ removed: await ds.removeNode(values.name) }));
  } else {
    let changed = false;
    await ds.start(() => (changed = true));
    console.log(JSON.stringify({ nodes: ds.nodes(), changed }));
  }
} catch (e) {
  console.error(`etcd_ctl: ${(e as Error).message}`);
  code = 1;
} finally {
  await ds.close();
}
Deno.exit(code);
