/**
 * Root-only: the trust gate and the fault handling of issue 12 on the
 * simulated three-node cluster (tests/cluster/), for the file and the etcd
 * datastore, and the hostile-datastore part for the Kubernetes one. Every
 * check is a real outcome: hostgate's routes in the kernel, pod-to-pod pings, the agents' /metrics and /readyz, `hostgate-agent
 * status`, files on disk.
 *
 * - Hostile datastore: one entry of each bad class (a stolen subnet, an
 *   oversized block, outside the cluster CIDR, the service range, the
 *   metadata address, the node segment, a broadcast gateway, an oversize
 *   value, garbage) → every valid route unchanged, pods still ping, each
 *   class counted in hostgate_peers_rejected_total, the node stays Ready.
 *   Kubernetes expresses them as Node objects and the subnets ConfigMap
 *   (k8sHostile): a stolen subnet there is an allocation against another
 *   node's spec ("overlap"), and an oversize annotation is dropped unread at
 *   ingest (projectNode), so it is not counted but must change nothing.
 * - Equal claims (Kubernetes): a Node stealing another's subnet through its
 *   own spec.podCIDRs (a record as strong as the victim's) loses ("overlap")
 *   to the incumbent: the victim's route stays on every node, also across an
 *   agent's kill -9 and restart, and pods still ping.
 * - Faults: etcd stopped and frozen (etcd), an agent killed with -9 and
 *   restarted during the fault → no route deleted, no agent exits, /readyz
 *   503 during and 200 after. The file store's nodes/ folder and the API
 *   server going away are tests/datastore_outage_test.ts.
 * - Repair (file): conflist, plugin binary and ip_forward changed by hand
 *   come back through the agent's watches; an operator's DROP in FORWARD
 *   still drops after resyncs.
 * Timings are the bench's job (bench/recovery_bench.ts); waits here are
 * generous. Needs `deno task bundle`. Namespace prefixes hgtf, hgte, hgtk.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot, run, sh } from "./helpers/netns.ts";
import { Cluster } from "./cluster/cluster.ts";
import type { DatastoreKind } from "./cluster/datastores.ts";
import { until } from "./helpers/until.ts";
import { httpGet, pingOnce } from "./cluster/probes.ts";
import { ClusterChecks, HEALTH, holdUntil, ready, rejected } from "./cluster/fault_checks.ts";
import { writeNodeEntry } from "../src/datastore/file/mod.ts";

const PREFIX: Record<string, string> = { file: "hgtf", etcd: "hgte", kubernetes: "hgtk" };
const NODES = ["n1", "n2", "n3"];

/** The reject reasons the hostile entries below must produce, with a minimum count. */
const WANT_REJECTS: Record<string, number> = {
  "not-owned": 1,
  "prefix-length": 1,
  "outside-cluster-cidr": 4,
  "bad-gateway": 1,
  "oversize": 1,
  "garbage": 1,
};

/** The same classes through the Kubernetes store: what its Node objects can say. */
const WANT_REJECTS_K8S: Record<string, number> = {
  "overlap": 1,
  "prefix-length": 1,
  "outside-cluster-cidr": 4,
  "bad-gateway": 1,
  "garbage": 1,
};

/** Writes the hostile Nodes (and the steal's ConfigMap allocation) through the test apiserver. */
async function k8sHostile(c: Cluster, stolen: string): Promise<void> {
  const put = c.backend.putObject!;
  const node = (name: string, podCIDRs: string[] | undefined, address: string, ann = {}) =>
    put("nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, annotations: ann },
      spec: podCIDRs ? { podCIDR: podCIDRs[0], podCIDRs } : {},
      status: { addresses: [{ type: "InternalIP", address }] },
    });
  // No spec subnet: the allocation ConfigMap (weaker than n2's spec) hands it n2's subnet.
  const cms = await c.backend.listObjects!("configmaps");
  const cm = cms.find((o) => {
    const m = o.metadata as { name?: string; namespace?: string };
    return m.name === "hostgate-subnets" && m.namespace === "kube-system";
  });
  await put("configmaps", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "hostgate-subnets", namespace: "kube-system" },
    data: { ...(cm?.data as Record<string, string> | undefined), "evil-steal": stolen },
  });
  await node("evil-steal", undefined, "172.30.0.50");
  await node("evil-overlap", ["10.244.0.0/20"], "172.30.0.51");
  await node("evil-outside", ["128.0.0.0/1"], "172.30.0.52");
  await node("evil-service", ["10.96.0.0/12"], "172.30.0.53");
  await node("evil-metadata", ["169.254.169.254/32"], "172.30.0.54");
  await node("evil-segment", ["172.30.0.0/25"], "172.30.0.55");
  await node("evil-bcast", ["10.244.200.0/24"], "172.30.0.255");
  await node("evil-big", undefined, "172.30.0.56", {
    "hostgate.io/node-ips": "172.30.0.57,".repeat(7_000),
  });
  await node("evil-garbage", ["{not a cidr"], "not-an-ip");
}

/** The hostile entries, as stored JSON (name -> value); `stolen` is another node's subnet. */
function hostile(stolen: string): Record<string, string> {
  const e = (name: string, podCidrs: string[], address: string) =>
    JSON.stringify({ name, podCidrs, addresses: [address] });
  return {
    "evil-steal": e("evil-steal", [stolen], "172.30.0.50"),
    "evil-overlap": e("evil-overlap", ["10.244.0.0/20"], "172.30.0.51"),
    "evil-outside": e("evil-outside", ["128.0.0.0/1"], "172.30.0.52"),
    "evil-service": e("evil-service", ["10.96.0.0/12"], "172.30.0.53"),
    "evil-metadata": e("evil-metadata", ["169.254.169.254/32"], "172.30.0.54"),
    "evil-segment": e("evil-segment", ["172.30.0.0/25"], "172.30.0.55"),
    "evil-big": JSON.stringify({ name: "evil-big", pad: "x".repeat(70_000) }),
    "evil-garbage": "{not json",
  };
}

async function scenario(kind: DatastoreKind, t: Deno.TestContext): Promise<void> {
  const c = await Cluster.start({ prefix: PREFIX[kind]!, nodes: 3, datastore: kind });
  const ns = (n: string) => c.node(n).netns;
  const step = async (name: string, fn: () => Promise<void>) => {
    const ok = await t.step(name, fn);
    if (!ok) console.error(await c.agentLogs(25));
    return ok;
  };
  const checks = new ClusterChecks(c, NODES);
  const pods = checks.pods;
  let routes: Record<string, string[]> = {};
  const snapshot = () => checks.snapshot();
  const pingAll = () => checks.pingAll();
  const agentsAlive = () => checks.agentsAlive();
  try {
    const up = await step("three agents converge and their pods ping each other", async () => {
      await Promise.all(NODES.map((n) => c.join(n)));
      await c.waitMesh(NODES);
      for (const n of NODES) pods.push(await c.addPod(n, "a"));
      await pingAll();
      for (const n of NODES) await until(`${n} ready`, () => ready(ns(n)));
      // The baseline every later step compares with must be complete (a snapshot taken while
      // a route was still being (re)written froze an incomplete one once: 2 routes on n1, 3 at
      // the next comparison).
      routes = await checks.baseline();
    });
    if (!up) return;

    await step("hostile entries: rejected and counted, valid routes unchanged, Ready", async () => {
      const stolen = (await c.subnetOf("n2"))!;
      const entries = hostile(stolen);
      if (kind === "kubernetes") {
        await k8sHostile(c, stolen);
      } else if (kind === "file") {
        for (const [name, value] of Object.entries(entries)) {
          await Deno.writeTextFile(`${c.dir}/store/nodes/${name}.json`, value);
        }
        // A claimed subnet (so only the gateway is wrong): the segment's broadcast address.
        await writeNodeEntry({
          name: "evil-bcast",
          podCidrs: ["10.244.200.0/24"],
          addresses: ["172.30.0.255"],
        }, { dir: `${c.dir}/store` });
      } else {
        for (const [name, value] of Object.entries(entries)) {
          await c.backend.putRaw!(`/hostgate/nodes/${name}`, value);
        }
        await c.backend.putRaw!("/hostgate/subnets/10.244.200.0/24", "evil-bcast");
        await c.backend.putRaw!(
          "/hostgate/nodes/evil-bcast",
          JSON.stringify({
            name: "evil-bcast",
            podCidrs: ["10.244.200.0/24"],
            addresses: ["172.30.0.255"],
          }),
        );
      }
      for (const n of NODES) {
        await until(`${n} counts every reject class`, async () => {
          const got = await rejected(ns(n));
          const want = kind === "kubernetes" ? WANT_REJECTS_K8S : WANT_REJECTS;
          return Object.entries(want).every(([r, min]) => (got[r] ?? 0) >= min) ||
            undefined;
        }, { ms: 15_000 });
      }
      assert.deepEqual(await snapshot(), routes, "valid routes unchanged, no hostile route");
      await pingAll();
      for (const n of NODES) assert.ok(await ready(ns(n)), `${n} stays ready`);
      const status = await statusOf(c, "n1");
      assert.match(
        status.stdout,
        kind === "kubernetes"
          ? /rejected: node evil-steal podCidrs \S+: overlap/
          : /rejected: node evil-steal podCidrs \S+: not-owned/,
        status.stderr,
      );
      assert.match(
        status.stdout,
        /rejected: node evil-bcast addresses 172\.30\.0\.255: bad-gateway/,
      );
    });

    if (kind === "kubernetes") {
      await step(
        "a Node stealing n2's subnet in its own spec: n2 keeps it everywhere",
        async () => {
          const stolen = (await c.subnetOf("n2"))!;
          const before = await rejected(ns("n1"));
          await c.backend.putObject!("nodes", {
            apiVersion: "v1",
            kind: "Node",
            metadata: { name: "thief" },
            spec: { podCIDR: stolen, podCIDRs: [stolen] },
            status: { addresses: [{ type: "InternalIP", address: "172.30.0.60" }] },
          });
          for (const n of ["n1", "n3"]) {
            await until(
              `${n} counts the thief`,
              async () =>
                ((await rejected(ns(n))).overlap ?? 0) > (before.overlap ?? 0) || undefined,
            );
          }
          assert.deepEqual(await snapshot(), routes, "n2's route stays, no route via the thief");
          await pingAll();
          for (const n of NODES) {
            assert.ok(await ready(ns(n)), `${n} stays ready`);
          }
          const shown = await statusOf(c, "n1");
          assert.match(
            shown.stdout,
            new RegExp(`rejected: node thief podCidrs ${stolen.replace(/\./g, "\\.")}: overlap`),
            shown.stderr,
          );
          // A restarted agent finds the incumbent in its kernel route.
          await c.stopAgent("n1", "SIGKILL");
          await c.startAgent("n1");
          await until("n1 ready again", () => ready(ns("n1")));
          assert.deepEqual(await snapshot(), routes, "n2's route kept through the restart");
          await pingAll();
        },
      );
    }

    if (kind === "file") {
      await step("repair: conflist, plugin and ip_forward come back without a resync", async () => {
        const d = c.dirs("n1");
        const conflist = `${d.conf}/10-hostgate.conflist`;
        const want = await Deno.readTextFile(conflist);
        await Deno.remove(conflist);
        await until(
          "conflist back",
          async () => (await Deno.readTextFile(conflist).catch(() => "")) === want,
        );
        await Deno.remove(`${d.bin}/hostgate`);
        await until(
          "plugin back",
          async () => (await Deno.stat(`${d.bin}/hostgate`).catch(() => undefined))?.isFile,
        );
        await sh(["ip", "netns", "exec", ns("n1"), "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
        await until(
          "ip_forward back",
          async () =>
            (await sh(["ip", "netns", "exec", ns("n1"), "sysctl", "-n", "net.ipv4.ip_forward"]))
              .trim() === "1",
        );
        await pingAll();
      });

      await step("an operator's DROP in FORWARD keeps dropping after resyncs", async () => {
        const [a, b] = [pods[0]!, pods[1]!];
        const save = (await run(["ip", "netns", "exec", ns("n2"), "iptables-nft-save"])).stdout;
        const ipt = save.includes("HOSTGATE-FWD") ? "iptables-nft" : "iptables-legacy";
        const drop = ["-s", a.ip, "-d", b.ip, "-j", "DROP"];
        await sh(["ip", "netns", "exec", ns("n2"), ipt, "-I", "FORWARD", "1", ...drop]);
        try {
          assert.equal(await pingOnce(a.netns, b.ip), false, "the operator's DROP drops");
          // Make the agent rewrite its rules a few times: flush its chain by hand.
          for (let i = 0; i < 3; i++) {
            await sh(["ip", "netns", "exec", ns("n2"), ipt, "-F", "HOSTGATE-FWD"]);
            await c.stopAgent("n2", "SIGKILL");
            await c.startAgent("n2");
            await until("n2's rules back", async () => {
              const s = (await run(["ip", "netns", "exec", ns("n2"), `${ipt}-save`])).stdout;
              return /-A HOSTGATE-FWD .* -j ACCEPT/.test(s) || undefined;
            });
            assert.equal(
              await pingOnce(a.netns, b.ip),
              false,
              `still dropped after resync ${i + 1}`,
            );
          }
        } finally {
          await sh(["ip", "netns", "exec", ns("n2"), ipt, "-D", "FORWARD", ...drop]);
        }
        await pingAll();
      });
    } else if (kind === "etcd") {
      await step(
        "etcd stopped 8 s (agent kill -9 meanwhile): no route deleted, recovers",
        async () => {
          await c.backend.stopServer!();
          const t0 = Date.now();
          try {
            for (const n of NODES) await until(`${n} not ready`, async () => !(await ready(ns(n))));
            await c.stopAgent("n3", "SIGKILL");
            await c.startAgent("n3");
            await until(
              "n3 answers again",
              async () => (await httpGet(ns("n3"), `${HEALTH}/healthz`)) !== undefined,
            );
            assert.deepEqual(await snapshot(), routes, "no route deleted during the outage");
            await pingAll();
            await holdUntil(t0, 8_000);
            assert.deepEqual(await snapshot(), routes, "none deleted later in the outage either");
          } finally {
            await c.backend.startServer!();
          }
          for (const n of NODES) {
            await until(`${n} ready again`, () => ready(ns(n)), { ms: 20_000 });
          }
          assert.deepEqual(await snapshot(), routes);
          await agentsAlive();
          await pingAll();
        },
      );

      await step("etcd frozen 5 s (SIGSTOP): not ready while frozen, ready after", async () => {
        const pid = c.backend.procs()[0]!.pid;
        Deno.kill(pid, "SIGSTOP");
        const t0 = Date.now();
        try {
          for (const n of NODES) await until(`${n} not ready`, async () => !(await ready(ns(n))));
          await holdUntil(t0, 5_000);
          assert.deepEqual(await snapshot(), routes);
        } finally {
          Deno.kill(pid, "SIGCONT");
        }
        for (const n of NODES) await until(`${n} ready again`, () => ready(ns(n)));
        await agentsAlive();
        await pingAll();
      });
    }
  } finally {
    await c.teardown();
  }
}

/** `hostgate-agent status` on node `name`, as an operator runs it. */
function statusOf(c: Cluster, name: string) {
  return run([
    "ip",
    "netns",
    "exec",
    c.node(name).netns,
    new URL("../dist/bundle/hostgate-agent", import.meta.url).pathname,
    "status",
    `--node-name=${name}`,
    ...c.backend.agentFlags(),
    `--cni-conf-dir=${c.dirs(name).conf}`,
    `--ipam-dir=${c.dirs(name).ipam}`,
    "--timeout=5s",
  ]);
}

for (const kind of ["file", "etcd", "kubernetes"] as const) {
  Deno.test({
    name: `trust and faults (${kind} datastore)`,
    ignore: !isRoot(),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: (t) => scenario(kind, t),
  });
}
