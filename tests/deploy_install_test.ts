/**
 * The init container, end to end without a cluster and without root:
 * `hostgate-agent install` (from the sources) runs with the DaemonSet's exact
 * environment, its node directories moved under a temporary root, against the
 * test API server. It must put the plugin and the conflist where the
 * runtime's host paths are, and every API request it makes must be allowed by
 * deploy/rbac.yaml: a live check beside the static scan in deploy_test.ts.
 * Reads (never changes) the machine's links to find the uplink.
 * @module
 */
import assert from "node:assert/strict";
import { startApiServer } from "./helpers/apiserver.ts";
import { rulesAllow } from "../deploy/api_calls.ts";
import { containerEnv, type Deployment, hostPathOf, loadDeployment } from "../deploy/inspect.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const PLUGIN = new TextEncoder().encode("#!/bin/sh\necho fake hostgate plugin\n");

/** Runs `install` as the init container would on `node`, with the node's root at `root`. */
async function install(d: Deployment, opts: { root: string; node: string; kubeconfig: string }) {
  const env = containerEnv(d, d.init, opts.node);
  for (const key of ["CNI_BIN_DIR", "CNI_CONF_DIR"]) {
    env[key] = `${opts.root}${hostPathOf(d, d.init, env[key]!).hostPath}`;
  }
  env.HOSTGATE_PLUGIN_SRC = `${opts.root}/image${env.HOSTGATE_PLUGIN_SRC}`;
  Object.assign(env, {
    // The in-cluster config becomes the test server's kubeconfig; the uplink is "lo".
    KUBECONFIG: opts.kubeconfig,
    NODE_IP: "192.0.2.10",
    HOSTGATE_IFACE: "lo",
    HOSTGATE_TIMEOUT: "10s",
  });
  for (const keep of ["HOME", "DENO_DIR", "PATH"]) {
    const v = Deno.env.get(keep);
    if (v !== undefined) env[keep] = v;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}src/agent/cli/main.ts`, ...d.init.args],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("install with the DaemonSet's settings, within RBAC", async (t) => {
  const d = await loadDeployment();
  const namespace = d.daemonSet.metadata.namespace;
  const server = await startApiServer({ namespace });
  const tmp = await Deno.makeTempDir({ prefix: "hostgate-deploy-install-" });
  const node = (name: string, podCidr?: string) => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    spec: podCidr ? { podCIDR: podCidr, podCIDRs: [podCidr] } : {},
    status: { addresses: [{ type: "InternalIP", address: "192.0.2.10" }] },
  });

  /** Every request so far is allowed by the ClusterRole or, in hostgate's namespace, the Role. */
  const assertAuthorized = () => {
    const denied = server.requests.filter((r) => r.verb !== "discovery").filter((r) =>
      r.namespace === undefined
        ? !rulesAllow(d.clusterRole.rules, r)
        : r.namespace !== namespace || !rulesAllow(d.role.rules, r)
    );
    assert.deepEqual(denied, [], "requests deploy/rbac.yaml does not allow");
    assert.ok(server.requests.length > 0, "install made no API request");
  };
  const setUp = async (root: string) => {
    await Deno.mkdir(`${root}/image/usr/local/bin`, { recursive: true });
    await Deno.writeFile(`${root}/image/usr/local/bin/hostgate`, PLUGIN, { mode: 0o755 });
  };

  try {
    await t.step("a node with spec.podCIDR: plugin and conflist at the host paths", async () => {
      const root = `${tmp}/node-a`;
      await setUp(root);
      server.put("nodes", node("node-a", "10.244.7.0/24"));
      const r = await install(d, { root, node: "node-a", kubeconfig: server.kubeconfigPath });
      assert.equal(r.code, 0, r.stderr);
      const plugin = `${root}/opt/cni/bin/hostgate`;
      assert.deepEqual(await Deno.readFile(plugin), PLUGIN);
      assert.equal((await Deno.stat(plugin)).mode! & 0o777, 0o755);
      const conflist = JSON.parse(
        await Deno.readTextFile(`${root}/etc/cni/net.d/10-hostgate.conflist`),
      );
      assert.ok(conflist.cniVersions.includes("1.1.0"), JSON.stringify(conflist));
      assert.deepEqual(conflist.plugins.map((p: { type: string }) => p.type), ["hostgate"]);
      assert.match(JSON.stringify(conflist.plugins[0]), /10\.244\.7\.0\/24/);
      assertAuthorized();
    });

    await t.step("run again: nothing is rewritten", async () => {
      const root = `${tmp}/node-a`;
      const conflist = `${root}/etc/cni/net.d/10-hostgate.conflist`;
      const before = [(await Deno.stat(conflist)).mtime, (await Deno.stat(conflist)).ino];
      await new Promise((r) => setTimeout(r, 20));
      const r = await install(d, { root, node: "node-a", kubeconfig: server.kubeconfigPath });
      assert.equal(r.code, 0, r.stderr);
      const after = [(await Deno.stat(conflist)).mtime, (await Deno.stat(conflist)).ino];
      assert.deepEqual(after, before);
    });

    await t.step("a node without podCIDR: a subnet from the ConfigMap's cluster CIDR", async () => {
      const root = `${tmp}/node-b`;
      await setUp(root);
      server.requests.length = 0;
      server.put("nodes", node("node-b"));
      const r = await install(d, { root, node: "node-b", kubeconfig: server.kubeconfigPath });
      assert.equal(r.code, 0, r.stderr);
      const cm = server.get("configmaps", "hostgate-subnets", namespace);
      assert.ok(cm, `no hostgate-subnets ConfigMap in ${namespace}`);
      const subnet = (cm.data as Record<string, string>)["node-b"];
      assert.ok(subnet, JSON.stringify(cm.data));
      assert.ok(subnet.startsWith("10.244."), `${subnet} is outside the cluster CIDR`);
      const conflist = await Deno.readTextFile(`${root}/etc/cni/net.d/10-hostgate.conflist`);
      assert.ok(conflist.includes(subnet), conflist);
      assertAuthorized();
    });
  } finally {
    await server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
