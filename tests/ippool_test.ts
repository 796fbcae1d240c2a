/**
 * Root-only: the `hostgate-ippool` IPAM against the test list/watch server
 * (real resourceVersion and 409 semantics), from the real bundled plugin run
 * inside node netns (prefix hgpo) and from IppoolIpam objects in this
 * process: sticky IPs across nodes, reserved addresses and the gateway never
 * handed out, reclaim, 30 concurrent ADDs from 3 nodes, a full pool, and an
 * unusable API server (code 11, nothing changed). Every request the plugin
 * made is checked against the ClusterRole in deploy/rbac.yaml.
 * Run `deno task bundle` first.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { type PolicyRule, rulesAllow } from "../deploy/api_calls.ts";
import { CniError } from "../src/errors.ts";
import { IpamExhaustedError } from "../src/ipam/errors.ts";
import { createIppoolIpam, type IppoolIpam, parseAllocation } from "../src/ipam/ippool/mod.ts";
import type { IpamOwner } from "../src/ipam/types.ts";
import { RealFileSystem } from "../src/system/fs.ts";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { listenInNetns, type NetnsListener, writeKubeconfig } from "./helpers/apiserver_netns.ts";
import { cni, type CniOutcome, ipJson, requireBundle } from "./helpers/cni.ts";
import { isRoot, type NetnsSet, withNetns } from "./helpers/netns.ts";

const ignore = !isRoot();
const NODES = ["n1", "n2", "n3"] as const;
type Node = typeof NODES[number];

interface Cluster {
  server: ApiServer;
  ns: NetnsSet;
  /** Node netns names by node. */
  nodeNs: Record<Node, string>;
  listeners: Record<Node, NetnsListener>;
  pool(name: string, spec: Record<string, unknown>): void;
  pod(name: string, phase?: string): void;
  /** An IppoolIpam in this process, as node `node`. */
  ipam(node: Node, pool: string, extra?: Record<string, unknown>): IppoolIpam;
  /** The real plugin, in node `node`'s netns. */
  plugin(
    node: Node,
    c: { command: string; pool: string; id: string; netns?: string; pod?: string },
  ): Promise<CniOutcome>;
  /** A pod netns; returns its path. */
  sandbox(name: string): Promise<string>;
  allocations(): ReturnType<typeof parseAllocation>[];
}

async function withCluster(fn: (c: Cluster) => Promise<void>): Promise<void> {
  await requireBundle();
  const server = await startApiServer();
  const dir = await Deno.makeTempDir({ prefix: "hgpo-" });
  const fs = new RealFileSystem();
  try {
    await withNetns("hgpo", async (ns) => {
      const nodeNs = {} as Record<Node, string>;
      const listeners = {} as Record<Node, NetnsListener>;
      try {
        for (const n of NODES) {
          nodeNs[n] = await ns.add(n);
          listeners[n] = listenInNetns(server, ns.path(nodeNs[n]));
          await writeKubeconfig(`${dir}/${n}.kubeconfig`, listeners[n].url, server.token);
        }
        await fn({
          server,
          ns,
          nodeNs,
          listeners,
          pool: (name, spec) =>
            void server.put("ippools.hostgate.io", { metadata: { name }, spec }),
          pod: (name, phase = "Running") =>
            void server.put("pods", {
              metadata: { name, namespace: "ns" },
              spec: {},
              status: { phase },
            }),
          ipam: (node, pool, extra = {}) =>
            createIppoolIpam({
              ipam: {
                type: "hostgate-ippool",
                pool,
                kubeconfig: server.kubeconfigPath,
                nodeName: node,
                ...extra,
              },
              fs,
            }),
          plugin: (node, c) =>
            cni(nodeNs[node], {
              command: c.command,
              containerId: c.id,
              netns: c.netns,
              ifname: "eth0",
              args: c.pod ? `K8S_POD_NAMESPACE=ns;K8S_POD_NAME=${c.pod}` : undefined,
              conf: {
                cniVersion: "1.1.0",
                name: "hgpo-net",
                type: "hostgate",
                bridge: "hgpo0",
                isDefaultGateway: true,
                ipam: {
                  type: "hostgate-ippool",
                  pool: c.pool,
                  kubeconfig: `${dir}/${node}.kubeconfig`,
                  nodeName: node,
                },
              },
            }),
          sandbox: async (name) => ns.path(await ns.add(name)),
          allocations: () =>
            server.list("ipallocations.hostgate.io").map((o) => parseAllocation(o)),
        });
      } finally {
        for (const l of Object.values(listeners)) await l.close();
      }
    });
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const owner = (id: string, pod?: string): IpamOwner =>
  pod
    ? { containerId: id, ifname: "eth0", podNamespace: "ns", podName: pod }
    : { containerId: id, ifname: "eth0" };

function ipOfResult(out: CniOutcome): string {
  assert.equal(out.code, 0, `plugin failed: ${out.stdout} ${out.stderr}`);
  const ips = (out.json?.ips ?? []) as { address: string }[];
  return ips[0]!.address.split("/")[0]!;
}

/** The IPv4 address on eth0 inside a pod netns (the kernel's view). */
async function podAddress(netnsPath: string): Promise<string | undefined> {
  const name = netnsPath.slice(netnsPath.lastIndexOf("/") + 1);
  const links = await ipJson(name, ["-4", "addr", "show"]) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  return links.find((l) => l.ifname === "eth0")?.addr_info[0]?.local;
}

const clusterRules: PolicyRule[] = (() => {
  const text = Deno.readTextFileSync(new URL("../deploy/rbac.yaml", import.meta.url));
  const docs = parseAllDocuments(text).map((d) => d.toJS());
  // The plugin's requests are made with the hostgate-plugin account's kubeconfig.
  return docs.find((d) => d?.kind === "ClusterRole" && d.metadata?.name === "hostgate-plugin")
    .rules as PolicyRule[];
})();

/** Every API request made so far is one the plugin's ClusterRole allows. */
function assertRbacAllows(server: ApiServer): void {
  const denied = server.requests.filter((r) =>
    r.verb !== "discovery" && !rulesAllow(clusterRules, r)
  );
  assert.deepEqual(denied, [], "requests the ClusterRole in deploy/rbac.yaml does not allow");
}

Deno.test({
  name: "ippool: sticky IP across DEL and ADD on another node (real plugin processes)",
  ignore,
  fn: () =>
    withCluster(async (c) => {
      c.pool("sticky", { cidr: "10.123.0.0/24" });
      c.pod("web-0");
      const sb1 = await c.sandbox("web-0-a");
      const add1 = await c.plugin("n1", {
        command: "ADD",
        pool: "sticky",
        id: "ca",
        netns: sb1,
        pod: "web-0",
      });
      const ip = ipOfResult(add1);
      assert.equal(await podAddress(sb1), ip, "the pod has its address in the kernel");
      const del = await c.plugin("n1", {
        command: "DEL",
        pool: "sticky",
        id: "ca",
        netns: sb1,
        pod: "web-0",
      });
      assert.equal(del.code, 0, del.stdout);
      const released = c.allocations().find((a) => a?.ip === ip)!;
      assert.deepEqual([released.state, released.node], ["Released", "n1"]);
      // Other pods meanwhile get other addresses: free ones come before a released one.
      for (let i = 0; i < 5; i++) {
        assert.notEqual(
          ipOfResult(
            await c.plugin("n3", {
              command: "ADD",
              pool: "sticky",
              id: `o${i}`,
              netns: await c.sandbox(`o${i}`),
              pod: `o${i}`,
            }),
          ),
          ip,
        );
      }
      const sb2 = await c.sandbox("web-0-b");
      const add2 = await c.plugin("n2", {
        command: "ADD",
        pool: "sticky",
        id: "cb",
        netns: sb2,
        pod: "web-0",
      });
      assert.equal(ipOfResult(add2), ip, "same pod name: same address on another node");
      assert.equal(await podAddress(sb2), ip);
      const now = c.allocations().find((a) => a?.ip === ip)!;
      assert.deepEqual([now.state, now.node, now.containerId], ["Allocated", "n2", "cb"]);
      assertRbacAllows(c.server);
    }),
});

Deno.test({
  name: "ippool: reserved ranges and the gateway are never handed out; a full pool is code 100",
  ignore,
  fn: () =>
    withCluster(async (c) => {
      c.pool("small", {
        ipPoolSubs: [{
          range: "10.124.0.0-10.124.0.15/28",
          reservedRanges: ["10.124.0.2-10.124.0.5/28"],
          netmaskBits: 28,
          gateway: "10.124.0.14",
        }],
      });
      const got = await Promise.all(
        Array.from({ length: 8 }, (_, i) => c.ipam(NODES[i % 3]!, "small").add(owner(`c${i}`))),
      );
      const sb = await c.sandbox("last");
      const last = ipOfResult(
        await c.plugin("n2", { command: "ADD", pool: "small", id: "last", netns: sb }),
      );
      const all = [...got.map((r) => r.ips[0]!.address), `${last}/28`].sort();
      assert.deepEqual(
        all,
        [1, 6, 7, 8, 9, 10, 11, 12, 13].map((n) => `10.124.0.${n}/28`).sort(),
        "exactly the free addresses: not .0, .2-.5 (reserved), .14 (gateway), .15",
      );
      assert.ok(got.every((r) => r.ips[0]!.gateway === "10.124.0.14"));
      const full = await c.plugin("n3", {
        command: "ADD",
        pool: "small",
        id: "full",
        netns: await c.sandbox("full"),
      });
      assert.notEqual(full.code, 0);
      assert.equal(full.json?.code, 100, full.stdout);
      assert.match(
        String(full.json?.msg),
        /IPPool small has no free IPv4 address \(10\.124\.0\.0\/28/,
      );
      await assert.rejects(c.ipam("n1", "small").add(owner("more")), IpamExhaustedError);
      assert.equal(c.allocations().length, 9);
    }),
});

Deno.test({
  name: "ippool: reclaims the address of a deleted pod and of a Succeeded or Failed pod",
  ignore,
  fn: () =>
    withCluster(async (c) => {
      // 10.125.0.0/29: .1 gateway, .5-.6 reserved: .2, .3, .4 free.
      c.pool("tiny", { cidr: "10.125.0.0/29", reservedRanges: ["10.125.0.5-10.125.0.6"] });
      const held: Record<string, string> = {};
      for (const p of ["a", "b", "c"]) {
        c.pod(p);
        held[p] = (await c.ipam("n1", "tiny").add(owner(`id-${p}`, p))).ips[0]!.address;
      }
      c.pod("d");
      await assert.rejects(c.ipam("n2", "tiny").add(owner("id-d", "d")), IpamExhaustedError);
      c.server.remove("pods", "a", "ns");
      const sb = await c.sandbox("d");
      const d = await c.plugin("n2", {
        command: "ADD",
        pool: "tiny",
        id: "id-d",
        netns: sb,
        pod: "d",
      });
      assert.equal(`${ipOfResult(d)}/29`, held.a, "the deleted pod's address");
      assert.equal(await podAddress(sb), held.a!.split("/")[0]);
      c.pod("b", "Succeeded");
      c.pod("e");
      assert.equal((await c.ipam("n3", "tiny").add(owner("id-e", "e"))).ips[0]!.address, held.b);
      c.pod("c", "Failed");
      c.pod("f");
      assert.equal((await c.ipam("n3", "tiny").add(owner("id-f", "f"))).ips[0]!.address, held.c);
      c.pod("g", "Pending");
      await assert.rejects(c.ipam("n1", "tiny").add(owner("id-g", "g")), IpamExhaustedError);
      const byIp = new Map(c.allocations().map((a) => [`${a!.ip}/29`, a!]));
      assert.deepEqual(
        [byIp.get(held.a!)!.podName, byIp.get(held.b!)!.podName, byIp.get(held.c!)!.podName],
        ["d", "e", "f"],
      );
      assert.ok(c.server.count({ verb: "get", resource: "pods" }) > 0);
      assertRbacAllows(c.server);
    }),
});

Deno.test({
  name: "ippool: 30 concurrent ADDs from 3 nodes (6 real plugin processes) get 30 distinct IPs",
  ignore,
  fn: () =>
    withCluster(async (c) => {
      // 31 free addresses (.2-.32) for 30 pods: nearly every random draw collides with another.
      c.pool("busy", { cidr: "10.126.0.0/26", reservedRanges: ["10.126.0.33-10.126.0.62"] });
      // All 30 read the pool at the same moment, then race for the addresses.
      c.server.barrier(30, (r) => r.verb === "get" && r.resource === "ippools", 20_000);
      const sandboxes: string[] = [];
      for (let i = 0; i < 6; i++) sandboxes.push(await c.sandbox(`real${i}`));
      const real = sandboxes.map((sb, i) =>
        c.plugin(NODES[i % 3]!, {
          command: "ADD",
          pool: "busy",
          id: `real${i}`,
          netns: sb,
          pod: `real${i}`,
        })
          .then(ipOfResult)
      );
      const inproc = Array.from({ length: 24 }, (_, i) =>
        c.ipam(NODES[i % 3]!, "busy").add(owner(`obj${i}`, `obj${i}`)).then((r) =>
          r.ips[0]!.address.split("/")[0]!
        ));
      const ips = await Promise.all([...real, ...inproc]);
      assert.equal(new Set(ips).size, 30, `no duplicate: ${ips.join(" ")}`);
      const allocs = c.allocations();
      assert.equal(allocs.length, 30);
      assert.deepEqual(
        allocs.map((a) =>
          a!.ip
        ).sort(),
        [...ips].sort(),
      );
      for (const [i, sb] of sandboxes.entries()) assert.equal(await podAddress(sb), await real[i]);
      const perNode = NODES.map((n) => allocs.filter((a) => a!.node === n).length);
      assert.deepEqual(perNode, [10, 10, 10]);
      assert.ok(
        c.server.count({ verb: "create", resource: "ipallocations", code: 409 }) > 0,
        "the ADDs really collided",
      );
      assertRbacAllows(c.server);
    }),
});

Deno.test({
  name: "ippool: an unreachable, failing or slow API server is code 11 and nothing changes",
  ignore,
  fn: () =>
    withCluster(async (c) => {
      c.pool("p", { cidr: "10.127.0.0/24" });
      c.pod("web");
      await c.ipam("n1", "p").add(owner("before", "web"));
      const snapshot = JSON.stringify(c.server.list("ipallocations.hostgate.io"));
      const rv = c.server.store.resourceVersion;
      const is11 = (e: unknown) => e instanceof CniError && e.code === 11;

      await c.listeners.n2.close(); // connection refused inside n2
      const sb = await c.sandbox("x");
      const refused = await c.plugin("n2", {
        command: "ADD",
        pool: "p",
        id: "x",
        netns: sb,
        pod: "x",
      });
      assert.equal(refused.json?.code, 11, refused.stdout);
      assert.match(String(refused.json?.msg), /unreachable/);
      assert.equal(await podAddress(sb), undefined, "no interface left in the pod");

      await c.server.setDown(true, "refuse");
      await assert.rejects(c.ipam("n1", "p").add(owner("y")), is11);
      await assert.rejects(c.ipam("n1", "p").del(owner("before", "web")), is11);
      await c.server.setDown(false);

      c.server.failNext(1, { status: 503, match: (r) => r.verb === "create" });
      const failed = await c.plugin("n1", {
        command: "ADD",
        pool: "p",
        id: "z",
        netns: sb,
        pod: "z",
      });
      assert.equal(failed.json?.code, 11, failed.stdout);
      assert.match(String(failed.json?.msg), /503/);

      c.server.barrier(2, (r) => r.verb === "get" && r.resource === "ippools", 3000);
      const slow = c.ipam("n3", "p", { timeoutMs: 200 });
      await assert.rejects(slow.add(owner("slow")), (e: unknown) =>
        is11(e) && /within 200 ms/.test((e as Error).message));

      assert.equal(JSON.stringify(c.server.list("ipallocations.hostgate.io")), snapshot);
      assert.equal(c.server.store.resourceVersion, rv, "not one write reached the store");
    }),
});
