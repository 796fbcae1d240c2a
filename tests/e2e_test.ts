/**
 * Root-only end to end: a simulated three-node cluster (tests/cluster/) with
 * `hostgate-agent run` in every node namespace and pods made through the
 * node's conflist (hostgate alone: hostPorts built in), checked against each
 * datastore: file, etcd (a real etcd-server in the router namespace) and
 * kubernetes (the test list/watch apiserver in the router namespace, Nodes
 * with spec.podCIDR and an InternalIP). Every check is a step with real
 * outcomes: pings, TCP answers naming the source address the server saw,
 * routes in the kernel, files on disk, iptables-save. Needs
 * `deno task bundle` first. Namespace prefixes hgcf, hgce, hgck.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot, run } from "./helpers/netns.ts";
import { AGENT_BIN } from "./cluster/cluster_types.ts";
import { Cluster, namespacesWith, type Pod } from "./cluster/cluster.ts";
import type { DatastoreKind } from "./cluster/datastores.ts";
import { until } from "./helpers/until.ts";
import {
  allPing,
  askPeer,
  askPeerRetry,
  countMatches,
  hostgateRoutes,
  httpGet,
  pingOk,
  pingOnce,
  rootLinks,
  routeLines,
  rulesIn,
} from "./cluster/probes.ts";

const PREFIX: Record<DatastoreKind, string> = { file: "hgcf", etcd: "hgce", kubernetes: "hgck" };
const ECHO = 8080;
const HOST_PORT = 8081;

/** The rule lines (-A ...) of iptables-save, sorted. */
function ruleLines(save: string): string[] {
  return save.split("\n").filter((l) => l.startsWith("-A ")).sort();
}

/** One cell of the matrix: datastore, pod wiring, and the agents' backend. */
interface Cell {
  kind: DatastoreKind;
  mode: "routed" | "bridge";
  backend: "host-gw" | "vxlan";
  prefix: string;
}

async function scenario(cell: Cell, t: Deno.TestContext): Promise<void> {
  const { kind, mode } = cell;
  const t0 = Date.now();
  const linksBefore = await rootLinks();
  const c = await Cluster.start({
    prefix: cell.prefix,
    nodes: 3,
    datastore: kind,
    agentFlags: [`--pod-mode=${mode}`, `--backend=${cell.backend}`],
  });
  const timings: string[] = [];
  const step = async (name: string, fn: () => Promise<void>) => {
    const s = Date.now();
    const ok = await t.step(name, fn);
    if (!ok) console.error(await c.agentLogs());
    timings.push(`${((Date.now() - s) / 1000).toFixed(2)}s ${ok ? "ok  " : "FAIL"} ${name}`);
    return ok;
  };
  const ns = (n: string) => c.node(n).netns;
  const pods: Record<string, Pod> = {};
  try {
    const up = await step(
      "three agents converge: conflists and a route to every peer",
      async () => {
        await Promise.all(["n1", "n2", "n3"].map((n) => c.join(n)));
        await c.waitMesh(["n1", "n2", "n3"]);
        for (const n of ["n1", "n2", "n3"]) {
          assert.equal((await Deno.stat(`${c.dirs(n).bin}/hostgate`)).mode! & 0o777, 0o755);
          assert.ok((await Deno.stat(`${c.dirs(n).bin}/portmap`)).isFile, "portmap installed");
        }
      },
    );
    if (!up) throw new Error("Cannot run the checks: the cluster did not converge");

    await step(
      "pods get an address of their node's subnet (hostgate alone in the conflist)",
      async () => {
        const made = await Promise.all([
          c.addPod("n1", "a"),
          c.addPod("n1", "b", {
            portMappings: [{ hostPort: HOST_PORT, containerPort: ECHO, protocol: "tcp" }],
          }),
          c.addPod("n2", "a"),
        ]);
        for (const p of made) {
          pods[p.label] = p;
          const subnet = (await c.subnetOf(p.node.name))!;
          const base = subnet.split(".").slice(0, 3).join(".");
          assert.ok(p.ip.startsWith(`${base}.`), `${p.label} ${p.ip} not in ${subnet}`);
          assert.ok((await c.ipamFiles(p.node.name)).includes(p.ip), `${p.label}: no IPAM file`);
        }
        await Promise.all([
          c.startEchoServer(c.topo.outsideNs, ECHO),
          c.startEchoServer(pods["n1/b"]!.netns, ECHO),
          c.startEchoServer(pods["n2/a"]!.netns, ECHO),
        ]);
      },
    );
    const [a1, b1, a2] = [pods["n1/a"]!, pods["n1/b"]!, pods["n2/a"]!];

    await step("pod to pod on one node", () => allPing([["n1/a -> n1/b", a1.netns, b1.ip]]));

    await step("pod to pod across nodes, both directions, source not rewritten", async () => {
      await allPing([["n1/a -> n2/a", a1.netns, a2.ip], ["n2/a -> n1/a", a2.netns, a1.ip]]);
      assert.equal(await askPeerRetry(a1.netns, { ip: a2.ip, port: ECHO }), a1.ip);
      assert.equal(await askPeerRetry(a2.netns, { ip: b1.ip, port: ECHO }), a2.ip);
    });

    await step("pod to its node and to the other nodes", () =>
      allPing(
        c.topo.nodes.map((n) => [`n1/a -> ${n.name}`, a1.netns, n.ip] as [string, string, string]),
      ));

    await step("node to pod, own node and other nodes", () =>
      allPing([
        ["n1 -> n1/a", ns("n1"), a1.ip],
        ["n2 -> n1/a", ns("n2"), a1.ip],
        ["n3 -> n1/a", ns("n3"), a1.ip],
        ["n3 -> n2/a", ns("n3"), a2.ip],
      ]));

    await step("pod to the outside, masqueraded to its node IP where it arrives", async () => {
      assert.equal(
        await askPeerRetry(a1.netns, { ip: c.topo.outsideIp, port: ECHO }),
        c.node("n1").ip,
      );
      assert.equal(
        await askPeerRetry(a2.netns, { ip: c.topo.outsideIp, port: ECHO }),
        c.node("n2").ip,
      );
    });

    await step("the outside cannot reach a pod IP (but reaches the nodes)", async () => {
      const out = c.topo.outsideNs;
      const [node, pod, tcp] = await Promise.all([
        pingOk(out, c.node("n1").ip),
        pingOnce(out, a1.ip),
        askPeer(out, { ip: b1.ip, port: ECHO, timeoutS: 1 }),
      ]);
      assert.ok(node, "control: the outside reaches node n1");
      assert.equal(pod, false, "the outside pinged a pod");
      assert.equal(tcp, undefined, "the outside reached a pod's server");
    });

    await step(
      "hostPort (built into hostgate): node n2 reaches the server in n1/b at n1's IP",
      async () => {
        const seen = await askPeerRetry(ns("n2"), { ip: c.node("n1").ip, port: HOST_PORT });
        assert.equal(seen, c.node("n2").ip, "the pod's server saw node n2");
        // `hostgate-agent status` lists the pod's hostPort from the plugin's record.
        const st = await run([
          "ip",
          "netns",
          "exec",
          ns("n1"),
          AGENT_BIN,
          "status",
          "--json",
          "--node-name=n1",
          ...c.backend.agentFlags(),
          `--cluster-cidr=${c.clusterCidr}`,
          `--cni-conf-dir=${c.dirs("n1").conf}`,
          `--ipam-dir=${c.dirs("n1").ipam}`,
          "--timeout=5s",
        ]);
        const pods = JSON.parse(st.stdout).pods as { hostPorts: string[] }[];
        assert.ok(
          pods.some((p) => p.hostPorts.includes(`tcp ${HOST_PORT}->${ECHO}`)),
          st.stdout + st.stderr,
        );
      },
    );

    await step("pod DEL frees its IP (IPAM file, veth, hostPort gone)", async () => {
      const linksWith = await c.links(ns("n1"));
      await c.delPod(b1);
      delete pods["n1/b"];
      assert.ok(!(await c.ipamFiles("n1")).includes(b1.ip), `IPAM file of ${b1.ip} left`);
      assert.ok((await c.ipamFiles("n1")).includes(a1.ip), "n1/a's reservation must stay");
      assert.equal((await c.links(ns("n1"))).length, linksWith.length - 1, "one veth fewer");
      assert.equal(
        await askPeer(ns("n2"), { ip: c.node("n1").ip, port: HOST_PORT, timeoutS: 1 }),
        undefined,
      );
      // The pod left keeps working (in bridge mode the bridge MAC must not follow its ports).
      await allPing([["n1/a -> n2/a after the DEL", a1.netns, a2.ip]]);
    });

    await step(
      "agent killed with -9 and restarted: traffic stays, rules not duplicated",
      async () => {
        const routesBefore = await routeLines(ns("n1"));
        const rulesBefore = ruleLines(await rulesIn(ns("n1")));
        await c.stopAgent("n1", "SIGKILL");
        await allPing([["n1/a -> n2/a (agent dead)", a1.netns, a2.ip]]);
        await c.startAgent("n1");
        await until(
          "n1 ready after restart",
          async () => (await httpGet(ns("n1"), "http://127.0.0.1:9099/readyz"))?.startsWith("ok"),
          { ms: 15_000 },
        );
        assert.deepEqual(await routeLines(ns("n1")), routesBefore);
        const save = await rulesIn(ns("n1"));
        assert.equal(countMatches(save, /^-A FORWARD .*-j HOSTGATE-FWD/), 1, save);
        assert.equal(countMatches(save, /^-A POSTROUTING .*-j HOSTGATE-POSTRTG/), 1, save);
        assert.equal(countMatches(save, /^-A HOSTGATE-POSTRTG .*MASQUERADE/), 1, save);
        assert.deepEqual(ruleLines(save), rulesBefore);
        await allPing([["n1/a -> n2/a", a1.netns, a2.ip], ["n2/a -> n1/a", a2.netns, a1.ip]]);
      },
    );

    await step("node deleted from the datastore: its routes vanish everywhere", async () => {
      const sub3 = (await c.subnetOf("n3"))!;
      assert.ok((await routeLines(ns("n1"))).some((r) => r.startsWith(`${sub3} `)));
      await c.stopAgent("n3");
      await c.backend.removeNode("n3");
      for (const n of ["n1", "n2"]) {
        await until(`${n} dropping n3's route`, async () => {
          const routes = await hostgateRoutes(ns(n));
          return !routes.some((r) => r.dst === sub3) &&
            routes.filter((r) => r.gateway).length === 1;
        });
      }
      await allPing([["n1/a -> n2/a", a1.netns, a2.ip]]);
    });

    await step("node back with a new IP: routes follow, its pods are reachable", async () => {
      const oldIp = c.node("n3").ip;
      await c.changeNodeIp("n3", "172.30.0.23");
      await c.join("n3");
      await c.waitMesh(["n1", "n2", "n3"]);
      for (const n of ["n1", "n2"]) {
        if (cell.backend === "vxlan") break; // via the VTEP, which keeps its address
        const routes = await routeLines(ns(n));
        assert.ok(routes.some((r) => r.endsWith(" via 172.30.0.23")), routes.join("; "));
        assert.ok(!routes.some((r) => r.endsWith(` via ${oldIp}`)), routes.join("; "));
      }
      const a3 = await c.addPod("n3", "a");
      pods[a3.label] = a3;
      await allPing([["n1/a -> n3/a", a1.netns, a3.ip], ["n3/a -> n1/a", a3.netns, a1.ip]]);
    });

    await step("teardown leaves no IP file, link, namespace, process or dir", async () => {
      for (const p of Object.values(pods)) await c.delPod(p);
      for (const n of ["n1", "n2", "n3"]) {
        assert.deepEqual(await c.ipamFiles(n), [], `IP files left on ${n}`);
        const want = [
          "eth0",
          ...(mode === "bridge" ? ["hostgate0"] : []),
          ...(cell.backend === "vxlan" ? ["hostgate.1"] : []),
          "lo",
        ].sort();
        assert.deepEqual((await c.links(ns(n))).sort(), want, `links left on ${n}`);
      }
      const errors = await c.teardown();
      assert.deepEqual(errors, []);
      assert.deepEqual(await namespacesWith(cell.prefix), []);
      await assert.rejects(Deno.stat(c.dir), Deno.errors.NotFound);
      assert.deepEqual(await rootLinks(), linksBefore, "a link of ours in the root namespace");
    });
  } finally {
    await c.teardown();
    const total = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(
      `\n[e2e ${kind} ${mode} ${cell.backend}] ${total}s\n  ${timings.join("\n  ")}`,
    );
  }
}

/**
 * The matrix: every datastore in routed mode (the conflist's default) over
 * host-gw; the file datastore also in bridge mode, and both modes over VXLAN.
 */
const CELLS: Cell[] = [
  ...(["file", "etcd", "kubernetes"] as const).map((kind) => ({
    kind,
    mode: "routed" as const,
    backend: "host-gw" as const,
    prefix: PREFIX[kind],
  })),
  { kind: "file", mode: "bridge", backend: "host-gw", prefix: "hgcb" },
  { kind: "file", mode: "routed", backend: "vxlan", prefix: "hgcv" },
  { kind: "file", mode: "bridge", backend: "vxlan", prefix: "hgcw" },
];

for (const cell of CELLS) {
  Deno.test({
    name:
      `e2e (${cell.kind} datastore, ${cell.mode} pods, ${cell.backend}): simulated 3-node cluster`,
    ignore: !isRoot(),
    sanitizeOps: false,
    sanitizeResources: false,
    fn: (t) => scenario(cell, t),
  });
}
