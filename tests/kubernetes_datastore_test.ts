/**
 * The Kubernetes datastore driven through the real client-node informer
 * against the test list/watch server: node listing, change events, 410 Gone
 * relist, ConfigMap subnet allocation under contention (409s), freeing on
 * node delete, outage and recovery, in-cluster config. No root needed.
 * @module
 */

import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import { type ApiServer, type KubeObject, startApiServer } from "./helpers/apiserver.ts";
import {
  KubernetesDatastore,
  type KubernetesDatastoreOptions,
  loadKubeConfig,
} from "../src/datastore/kubernetes/mod.ts";

const FAST = { backoff: { initialMs: 30, maxMs: 200 }, log: () => {} };

function node(name: string, o: { cidrs?: string[]; ips?: string[] } = {}): KubeObject {
  return {
    metadata: { name },
    spec: o.cidrs ? { podCIDR: o.cidrs[0], podCIDRs: o.cidrs } : {},
    status: {
      addresses: [
        { type: "Hostname", address: name },
        ...(o.ips ?? []).map((address) => ({ type: "InternalIP", address })),
        { type: "ExternalIP", address: "203.0.113.1" },
      ],
    },
  };
}

/** Polls until `cond` holds; fails with `what` after `ms`. */
async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`Cannot observe: ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function datastore(s: ApiServer, extra: Partial<KubernetesDatastoreOptions> = {}) {
  return new KubernetesDatastore({ kubeconfigPath: s.kubeconfigPath, ...FAST, ...extra });
}

/** Runs `fn` with a server and closes every datastore it made, even on failure. */
async function withCluster(
  fn: (s: ApiServer, make: typeof datastore) => Promise<void>,
): Promise<void> {
  const s = await startApiServer();
  const made: KubernetesDatastore[] = [];
  try {
    await fn(s, (srv, extra) => {
      const ds = datastore(srv, extra);
      made.push(ds);
      return ds;
    });
  } finally {
    await Promise.all(made.map((d) => d.close()));
    await s.close();
  }
}

/** The allocation ConfigMap's data on the server. */
const allocations = (s: ApiServer) =>
  (s.get("configmaps", "hostgate-subnets", "kube-system")?.data ?? {}) as Record<string, string>;

const names = (ds: KubernetesDatastore) => ds.nodes().map((n) => n.name).join(",");

Deno.test("kubernetes: nodes with podCIDRs and InternalIP v4/v6", async () => {
  await withCluster(async (s, make) => {
    s.put("nodes", node("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.2"] }));
    s.put(
      "nodes",
      node("a", {
        cidrs: ["10.244.1.0/24", "fd00:10:244:1::/64"],
        ips: ["192.0.2.1", "2001:db8::1"],
      }),
    );
    s.put("nodes", {
      metadata: { name: "c" },
      spec: { podCIDR: "10.244.3.0/24" }, // only the singular field
      status: { addresses: [{ type: "InternalIP", address: "192.0.2.3" }] },
    });
    const ds = make(s);
    equal(ds.health().connected, false, "not connected before start");
    await ds.start(() => {});
    deepEqual(ds.nodes(), [
      {
        name: "a",
        podCidrs: ["10.244.1.0/24", "fd00:10:244:1::/64"],
        addresses: ["192.0.2.1", "2001:db8::1"],
      },
      { name: "b", podCidrs: ["10.244.2.0/24"], addresses: ["192.0.2.2"] },
      { name: "c", podCidrs: ["10.244.3.0/24"], addresses: ["192.0.2.3"] },
    ]);
    deepEqual(ds.health(), { connected: true, events: 3 });
    equal(ds.namespace, "kube-system", "namespace from the kubeconfig context");
    ok(s.count({ verb: "watch", resource: "nodes" }) >= 1);
    ok(s.count({ verb: "watch", resource: "configmaps" }) >= 1);
  });
});

Deno.test("kubernetes: node add, update and delete call onChange and show in nodes()", async () => {
  await withCluster(async (s, make) => {
    s.put("nodes", node("a", { cidrs: ["10.244.1.0/24"], ips: ["192.0.2.1"] }));
    const ds = make(s);
    let changes = 0;
    await ds.start(() => changes++);
    equal(changes, 1);
    s.put("nodes", node("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.2"] }));
    await until("node b added", () => names(ds) === "a,b");
    equal(changes, 2);
    s.put("nodes", node("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.22"] }));
    await until("node b's new IP", () => ds.nodes()[1]?.addresses[0] === "192.0.2.22");
    equal(changes, 3);
    s.remove("nodes", "a");
    await until("node a deleted", () => names(ds) === "b");
    equal(changes, 4);
    equal(ds.health().events, 4);
  });
});

Deno.test("kubernetes: register writes the VTEP and node IPs as annotations", async () => {
  await withCluster(async (s, make) => {
    s.put("nodes", node("a", { cidrs: ["10.244.1.0/24"] })); // no InternalIP
    const ds = make(s);
    await ds.start(() => {});
    const vtep = { mac: "0e:00:00:00:00:01", ip: "10.244.1.0" };
    const info = await ds.register({ name: "a", addresses: ["192.0.2.1"], vtep });
    deepEqual(info, { name: "a", podCidrs: ["10.244.1.0/24"], addresses: ["192.0.2.1"], vtep });
    deepEqual(s.get("nodes", "a")?.metadata.annotations, {
      "hostgate.io/vtep-mac": vtep.mac,
      "hostgate.io/vtep-ip": vtep.ip,
      "hostgate.io/node-ips": "192.0.2.1",
    });
    await until("vtep in nodes()", () => ds.nodes()[0]?.vtep?.mac === vtep.mac);
    equal(s.count({ verb: "patch", resource: "nodes", code: 200 }), 1);
    await ds.register({ name: "a", addresses: ["192.0.2.1"], vtep });
    equal(s.count({ verb: "patch", resource: "nodes" }), 1, "unchanged: no second write");
    await ds.register({ name: "a", addresses: ["192.0.2.1"] });
    equal(s.get("nodes", "a")?.metadata.annotations?.["hostgate.io/vtep-mac"], undefined);
    await rejects(
      ds.register({ name: "ghost", addresses: [] }),
      /Cannot register node ghost: no such Node object/,
    );
    s.put("nodes", node("bare"));
    await rejects(ds.register({ name: "bare", addresses: [] }), /no cluster CIDR is configured/);
  });
});

Deno.test("kubernetes: 410 Gone forces a relist and the cache recovers", async () => {
  await withCluster(async (s, make) => {
    s.put("nodes", node("a", { cidrs: ["10.244.1.0/24"], ips: ["192.0.2.1"] }));
    s.put("nodes", node("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.2"] }));
    const ds = make(s);
    let changes = 0;
    await ds.start(() => changes++);
    const lists = s.count({ verb: "list", resource: "nodes" });
    // Changes the informer cannot see, then history compacted: its resourceVersion is too old.
    await s.setDown(true);
    await until("the datastore saw the outage", () => !ds.health().connected);
    s.remove("nodes", "a");
    s.put("nodes", node("c", { cidrs: ["10.244.3.0/24"], ips: ["192.0.2.3"] }));
    s.put("nodes", node("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.20"] }));
    s.compact();
    const before = changes;
    await s.setDown(false);
    await until("relisted state", () => names(ds) === "b,c" && ds.health().connected);
    ok(s.expired >= 1, "the watch was answered 410 Gone");
    ok(s.count({ verb: "list", resource: "nodes" }) > lists, "relisted");
    deepEqual(ds.nodes()[0]?.addresses, ["192.0.2.20"]);
    ok(changes >= before + 3, "delete a, add c, update b");
    s.put("nodes", node("d", { cidrs: ["10.244.4.0/24"] }));
    await until("watching again after the relist", () => names(ds) === "b,c,d");
  });
});

Deno.test("kubernetes: API down gives health false, back up recovers", async () => {
  await withCluster(async (s, make) => {
    s.put("nodes", node("a", { cidrs: ["10.244.1.0/24"], ips: ["192.0.2.1"] }));
    const ds = make(s);
    await ds.start(() => {});
    let expected = "a";
    for (const mode of ["refuse", "503"] as const) {
      await s.setDown(true, mode);
      await until(`health false (${mode})`, () => !ds.health().connected);
      match(ds.health().lastError ?? "", mode === "503" ? /503/ : /ECONNREFUSED|refused/i);
      equal(names(ds), expected, "cache kept while down");
      s.put("nodes", node(`n-${mode}`, { cidrs: [] }));
      expected += `,n-${mode}`;
      await s.setDown(false);
      await until(`recovered (${mode})`, () => ds.health().connected && names(ds).includes(mode));
    }
    // A start during an outage returns (does not hang) and catches up later.
    await s.setDown(true);
    const late = make(s);
    await late.start(() => {});
    equal(late.health().connected, false);
    await s.setDown(false);
    await until("late start synced", () => late.health().connected && late.nodes().length === 3);
  });
});

Deno.test("kubernetes: close during an outage leaves no timers or streams", async () => {
  const s = await startApiServer();
  try {
    const ds = datastore(s, { backoff: { initialMs: 10_000, maxMs: 10_000 } });
    await ds.start(() => {});
    equal(s.watchCount, 2);
    await s.setDown(true);
    await until("health false", () => !ds.health().connected);
    const t0 = performance.now();
    await ds.close();
    ok(performance.now() - t0 < 1000, "close does not wait for the retry timer");
    await s.setDown(false);
    equal(s.watchCount, 0);
  } finally {
    await s.close();
  }
});

Deno.test("kubernetes: ConfigMap allocation, 3 racing nodes, freed on delete", async () => {
  await withCluster(async (s, make) => {
    const cluster = ["10.50.0.0/16", "fd00:50::/48"];
    for (const n of ["a", "b", "c"]) {
      s.put("nodes", node(n, { ips: [`192.0.2.${n.charCodeAt(0)}`] }));
    }
    s.put("nodes", node("fixed", { cidrs: ["10.50.0.0/24"], ips: ["192.0.2.9"] }));
    const opts = { clusterCidrs: cluster, releaseDelayMs: 100 };
    const ds = new Map(["a", "b", "c"].map((n) => [n, make(s, opts)]));
    // All three read the (absent, then shared) ConfigMap before any writes: 409s guaranteed.
    s.barrier(3, (r) => r.verb === "get" && r.resource === "configmaps");
    const infos = await Promise.all(
      [...ds].map(([name, d]) => d.register({ name, addresses: [] })),
    );
    const v4 = infos.map((i) => i.podCidrs[0]);
    equal(new Set(v4).size, 3, `distinct subnets: ${v4}`);
    equal(new Set(infos.map((i) => i.podCidrs[1])).size, 3);
    ok(!v4.includes("10.50.0.0/24"), "a spec podCIDR is never handed out again");
    infos.forEach((i) => match(i.podCidrs[1]!, /^fd00:50:(:|0:[12]::)\/64$/));
    const conflicts = s.count({ resource: "configmaps", code: 409 });
    ok(conflicts >= 2, `server saw 409s (${conflicts})`);
    equal([...ds.values()].reduce((n, d) => n + d.conflicts, 0), conflicts);
    deepEqual(allocations(s), Object.fromEntries(infos.map((i) => [i.name, i.podCidrs.join(",")])));

    const a = ds.get("a")!;
    await Promise.all([...ds.values()].map((d) => d.start(() => {})));
    await until(
      "allocations merged into nodes()",
      () => a.nodes().filter((n) => n.podCidrs.length === 2).length === 3,
    );
    // Node c deleted: some agent frees its entry; the subnet is then handed out again.
    const freed = infos[2]!.podCidrs;
    s.remove("nodes", "c");
    await until("c freed", () => !("c" in allocations(s)));
    await until("c gone from nodes()", () => names(a) === "a,b,fixed");
    s.put("nodes", node("d"));
    const dsD = make(s, opts);
    deepEqual((await dsD.register({ name: "d", addresses: [] })).podCidrs, freed);
    // Node b deleted and re-created: its agent takes its entry back, same subnet.
    const bCidrs = infos[1]!.podCidrs.join(",");
    s.remove("nodes", "b");
    await until("b freed", () => !("b" in allocations(s)));
    s.put("nodes", node("b"));
    await until("b re-allocated the same subnet", () => allocations(s).b === bCidrs);
    // The first node's agent gone: the others free a deleted node's entry after their delay.
    await a.close();
    const t0 = performance.now();
    s.remove("nodes", "d");
    await until("d freed by a follower", () => !("d" in allocations(s)));
    ok(performance.now() - t0 >= 100, "followers wait releaseDelayMs");
  });
});

Deno.test("kubernetes: in-cluster config from the service account mount", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hgk8-sa-" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "tok-1");
    await Deno.writeTextFile(`${dir}/ca.crt`, "not parsed here");
    await Deno.writeTextFile(`${dir}/namespace`, "hostgate-system\n");
    const { kubeConfig, namespace } = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" },
      serviceAccountDir: dir,
    });
    equal(namespace, "hostgate-system");
    equal(kubeConfig.getCurrentCluster()?.server, "https://[fd00::1]:6443");
    equal(kubeConfig.getCurrentCluster()?.caFile, `${dir}/ca.crt`);
    const opts: { headers?: Record<string, string> } = { headers: {} };
    await kubeConfig.applyToHTTPSOptions(opts);
    equal(opts.headers?.Authorization, "Bearer tok-1");
    throws(() => loadKubeConfig({ env: {} }), /KUBERNETES_SERVICE_HOST is unset/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
