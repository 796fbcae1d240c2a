/**
 * Root-only: the cluster-wide IPPool IPAM end to end in the simulated
 * cluster (tests/cluster/) with the Kubernetes datastore. Agents run with
 * --ipam=ippool: their conflists name hostgate-ippool (the plugin reaches
 * the test apiserver in the router namespace with the agents' JSON
 * kubeconfig), they watch IPAllocation objects and route each pool address
 * of a pod on another node with a host route. Routed pods hold a /32 and
 * reach everything via their link-local gateway; bridge pods hold the /22
 * and the plugin turns proxy ARP on the bridge so a pod reaches a pool
 * address that the /22 makes look on-link. Checked: pool addresses (not node subnets) on three nodes,
 * pings across nodes both ways, a pod re-created under its name on another
 * node keeps its IP and its route moves, and the teardown leaves nothing.
 * Needs `deno task bundle` first. Namespace prefix hgpr.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot, sh } from "./helpers/netns.ts";
import { Cluster, namespacesWith, type Pod } from "./cluster/cluster.ts";
import { allPing, hostgateRoutes, rootLinks } from "./cluster/probes.ts";
import { cidrContainsIp } from "../src/net/mod.ts";
import { until } from "./helpers/until.ts";

const PREFIX = "hgpr";
const POOL = "hgpool";
const POOL_CIDR = "10.244.100.0/22";
const NODES = ["n1", "n2", "n3"];

/**
 * The agent's routes of `netns` as "dst via gw" ("10.244.100.7 via 172.30.0.12");
 * routed pods' own host routes (no gateway) are the plugin's and left out.
 */
async function routes(netns: string): Promise<string[]> {
  return (await hostgateRoutes(netns)).filter((r) => r.gateway).map((r) =>
    `${r.dst} via ${r.gateway}`
  );
}

async function scenario(t: Deno.TestContext, mode: "routed" | "bridge"): Promise<void> {
  const prefix = mode === "routed" ? PREFIX : "hgpb";
  const linksBefore = await rootLinks();
  const c = await Cluster.start({
    prefix,
    nodes: 3,
    datastore: "kubernetes",
    agentFlags: ["--ipam=ippool", `--ippool-name=${POOL}`, `--pod-mode=${mode}`],
  });
  const ns = (n: string) => c.node(n).netns;
  const ip = (n: string) => c.node(n).ip;
  const pods: Record<string, Pod> = {};
  /** Waits until `node` has exactly its peers' subnets plus host routes `hosts` ("ip@node"). */
  const waitRoutes = (node: string, hosts: string[]) => {
    const want = [
      ...NODES.filter((p) => p !== node).map((p) => `${c.podCidrFor(p)} via ${ip(p)}`),
      ...hosts.map((h) => {
        const [addr, peer] = h.split("@");
        return `${addr} via ${ip(peer!)}`;
      }),
    ].sort();
    return until(`${node} routes ${want.join(", ")}`, async () => {
      const have = (await routes(ns(node))).sort();
      return JSON.stringify(have) === JSON.stringify(want) || undefined;
    }, { ms: 15_000 });
  };
  const ok = async (name: string, fn: () => Promise<void>) => {
    const passed = await t.step(name, fn);
    if (!passed) console.error(await c.agentLogs(25));
    return passed;
  };
  try {
    const up = await ok("agents with --ipam=ippool render hostgate-ippool conflists", async () => {
      await c.backend.putObject!("ippools.hostgate.io", {
        apiVersion: "hostgate.io/v1alpha1",
        kind: "IPPool",
        metadata: { name: POOL },
        spec: { cidr: POOL_CIDR },
      });
      await Promise.all(NODES.map((n) => c.join(n)));
      for (const n of NODES) {
        const ipam = await until(`${n} conflist`, async () => {
          const text = await Deno.readTextFile(`${c.dirs(n).conf}/10-hostgate.conflist`);
          return JSON.parse(text).plugins[0].ipam as Record<string, unknown>;
        }, { ms: 15_000 });
        assert.deepEqual(ipam, {
          type: "hostgate-ippool",
          pool: POOL,
          kubeconfig: `${c.dir}/kubeconfig`,
          nodeName: n,
        });
      }
      await Promise.all(NODES.map((n) => waitRoutes(n, [])));
    });
    if (!up) return;

    const placed = await ok(
      "pods on three nodes get pool addresses, not node-subnet ones",
      async () => {
        for (const [i, n] of NODES.entries()) {
          pods[n] = await c.addPod(n, "p", { k8sName: `web-${i + 1}` });
        }
        const ips = NODES.map((n) => pods[n]!.ip);
        assert.equal(new Set(ips).size, 3, `distinct: ${ips}`);
        for (const n of NODES) {
          const a = pods[n]!.ip;
          assert.ok(cidrContainsIp(POOL_CIDR, a), `${n}: ${a} in ${POOL_CIDR}`);
          for (const m of NODES) {
            assert.ok(!cidrContainsIp(c.podCidrFor(m), a), `${a} not in ${m}'s`);
          }
        }
        const result = pods.n1!.result as { ips: { address: string; gateway: string }[] };
        if (mode === "routed") {
          // A /32 and the link-local gateway: every other address, pool or not, is routed.
          assert.equal(result.ips[0]!.address.split("/")[1], "32");
          assert.equal(result.ips[0]!.gateway, "169.254.1.1");
          return;
        }
        assert.equal(result.ips[0]!.address.split("/")[1], "22", "the pool's prefix");
        const bridgeAddrs = await sh(["ip", "-n", ns("n1"), "-br", "addr", "show", "hostgate0"]);
        assert.match(bridgeAddrs, new RegExp(`${result.ips[0]!.gateway}/22`));
        const arp = await sh([
          "ip",
          "netns",
          "exec",
          ns("n1"),
          "cat",
          "/proc/sys/net/ipv4/conf/hostgate0/proxy_arp",
        ]);
        assert.equal(arp.trim(), "1");
      },
    );
    if (!placed) return;

    await ok(
      "every node routes the other nodes' pool addresses; pings cross both ways",
      async () => {
        await Promise.all(
          NODES.map((n) =>
            waitRoutes(n, NODES.filter((m) => m !== n).map((m) => `${pods[m]!.ip}@${m}`))
          ),
        );
        const pairs: [string, string, string][] = [];
        for (const a of NODES) {
          for (const b of NODES) {
            if (a !== b) pairs.push([`${a}->${b}`, pods[a]!.netns, pods[b]!.ip]);
          }
        }
        await allPing(pairs);
      },
    );

    await ok(
      "the pod re-created on n2 keeps its IP; the route moves; n3 and n1 reach it",
      async () => {
        const old = pods.n1!;
        await c.delPod(old);
        delete pods.n1;
        const moved = await c.addPod("n2", "moved", { k8sName: "web-1" });
        pods.moved = moved;
        assert.equal(moved.ip, old.ip, "sticky IP on another node");
        const other = await c.addPod("n1", "q", { k8sName: "web-4" });
        pods.n1q = other;
        await waitRoutes("n3", [`${moved.ip}@n2`, `${pods.n2!.ip}@n2`, `${other.ip}@n1`]);
        await waitRoutes("n1", [`${moved.ip}@n2`, `${pods.n2!.ip}@n2`, `${pods.n3!.ip}@n3`]);
        await waitRoutes("n2", [`${pods.n3!.ip}@n3`, `${other.ip}@n1`]);
        await allPing([
          ["n3 pod -> moved", pods.n3!.netns, moved.ip],
          ["n1 pod -> moved", other.netns, moved.ip],
          ["moved -> n1 pod", moved.netns, other.ip],
          ["n2 pod -> moved (same node)", pods.n2!.netns, moved.ip],
        ]);
      },
    );

    await ok("teardown leaves no allocation held, link, namespace, process or dir", async () => {
      for (const p of Object.values(pods)) await c.delPod(p);
      const allocs = await c.backend.listObjects!("ipallocations.hostgate.io");
      const held = allocs.filter((a) => (a.spec as { state?: string }).state !== "Released");
      assert.deepEqual(held, [], "every allocation released by DEL");
      for (const n of NODES) {
        await waitRoutes(n, []);
        const want = mode === "bridge" ? ["eth0", "hostgate0", "lo"] : ["eth0", "lo"];
        assert.deepEqual(await c.links(ns(n)), want, `links left on ${n}`);
      }
      assert.deepEqual(await c.teardown(), []);
      assert.deepEqual(await namespacesWith(prefix), []);
      await assert.rejects(Deno.stat(c.dir), Deno.errors.NotFound);
      assert.deepEqual(await rootLinks(), linksBefore, "a link of ours in the root namespace");
    });
  } finally {
    await c.teardown();
  }
}

for (const mode of ["routed", "bridge"] as const) {
  Deno.test({
    name:
      `ippool cluster (${mode} pods): pool addresses routed across nodes, sticky IP moves its route`,
    ignore: !isRoot(),
    sanitizeOps: false,
    sanitizeResources: false,
    fn: (t) => scenario(t, mode),
  });
}
