/**
 * The Kubernetes datastore (its own projected list/watch, its own config
 * loader and writes) against the test list/watch server, on kubelet-shaped
 * Nodes (~10 KB each) with pagination on (2 objects a page): node listing,
 * change events, status-only updates that change nothing, 410 Gone relist
 * (paged and watch-list), expired continue tokens, outages, ConfigMap subnet allocation under contention (409s), freeing on
 * node delete, outage and recovery, in-cluster config. No root needed.
 * @module
 */

import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import { type ApiServer, type KubeObject, startApiServer } from "./helpers/apiserver.ts";
import { kubeletNode, type KubeletNodeSpec } from "./helpers/apiserver_kubelet_node.ts";
import {
  KubernetesDatastore,
  type KubernetesDatastoreOptions,
  loadKubeAccess,
} from "../src/datastore/kubernetes/mod.ts";
import { until } from "./helpers/until.ts";

const FAST = { backoff: { initialMs: 30, maxMs: 200 }, log: () => {}, pageSize: 2 };

function spec(name: string, o: { cidrs?: string[]; ips?: string[] } = {}): KubeletNodeSpec {
  return { name, podCidrs: o.cidrs, ips: o.ips };
}

/** A kubelet-shaped Node (~10 KB: managedFields, images, conditions). */
function node(name: string, o: { cidrs?: string[]; ips?: string[] } = {}, tick = 0): KubeObject {
  return kubeletNode(spec(name, o), tick);
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

/** The ownership record a Node's spec gives it. */
const specOwned = (...subnets: string[]) => ({ source: "node-spec", subnets });

/**
 * The nodes with each spec record's age checked against its stored Node's
 * creationTimestamp, then left out (so the rest compares with specOwned).
 */
function ageChecked<T extends { name: string; ownership?: { since?: number } }>(
  s: ApiServer,
  nodes: T[],
): T[] {
  return nodes.map((n) => {
    const created = s.get("nodes", n.name)?.metadata.creationTimestamp;
    equal(n.ownership?.since, created ? Date.parse(created) : undefined, `${n.name}'s age`);
    const { since: _, ...rest } = n.ownership ?? {};
    return n.ownership ? { ...n, ownership: rest } : n;
  });
}

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
    deepEqual(ageChecked(s, ds.nodes()), [
      {
        name: "a",
        podCidrs: ["10.244.1.0/24", "fd00:10:244:1::/64"],
        addresses: ["192.0.2.1", "2001:db8::1"],
        subnetSource: "spec",
        ownership: specOwned("10.244.1.0/24", "fd00:10:244:1::/64"),
      },
      {
        name: "b",
        podCidrs: ["10.244.2.0/24"],
        addresses: ["192.0.2.2"],
        subnetSource: "spec",
        ownership: specOwned("10.244.2.0/24"),
      },
      {
        name: "c",
        podCidrs: ["10.244.3.0/24"],
        addresses: ["192.0.2.3"],
        subnetSource: "spec",
        ownership: specOwned("10.244.3.0/24"),
      },
    ]);
    ok(s.listPages >= 2, "the LIST was paged");
    const h = ds.health();
    deepEqual([h.connected, h.events, h.authoritative], [true, 3, true]);
    ok(h.lastContactMs !== undefined);
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
    deepEqual(ageChecked(s, [info])[0], {
      name: "a",
      podCidrs: ["10.244.1.0/24"],
      addresses: ["192.0.2.1"],
      vtep,
      subnetSource: "spec",
      ownership: specOwned("10.244.1.0/24"),
    });
    const ann = s.get("nodes", "a")?.metadata.annotations ?? {};
    deepEqual(
      Object.fromEntries(Object.entries(ann).filter(([k]) => k.startsWith("hostgate.io/"))),
      {
        "hostgate.io/vtep-mac": vtep.mac,
        "hostgate.io/vtep-ip": vtep.ip,
        "hostgate.io/node-ips": "192.0.2.1",
      },
    );
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
    ok(changes >= before + 1, "the relist's changes reported");
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
    const access = loadKubeAccess({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" },
      serviceAccountDir: dir,
    });
    equal(access.namespace, "hostgate-system");
    equal(access.server, "https://[fd00::1]:6443");
    equal((await access.tls()).caPem, "not parsed here");
    deepEqual(await access.headers(), { authorization: "Bearer tok-1" });
    // The kubelet swaps a projected token in by rename: the next request carries the new one.
    await Deno.writeTextFile(`${dir}/token.new`, "tok-2\n");
    await Deno.rename(`${dir}/token.new`, `${dir}/token`);
    deepEqual(await access.headers(), { authorization: "Bearer tok-2" });
    ok(!access.summary.includes("tok-"), access.summary);
    throws(
      () => loadKubeAccess({ env: {} }),
      /Cannot load kubeconfig: .*KUBERNETES_SERVICE_HOST is unset/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kubernetes: a status-only kubelet update is no change (no onChange, no pass)", async () => {
  await withCluster(async (s, make) => {
    const a = spec("a", { cidrs: ["10.244.1.0/24"], ips: ["192.0.2.1"] });
    const b = spec("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.2"] });
    s.put("nodes", kubeletNode(a));
    s.put("nodes", kubeletNode(b));
    const ds = make(s);
    let passes = 0;
    await ds.start(() => passes++);
    equal(passes, 1);
    const before = ds.nodes();
    for (let tick = 1; tick <= 20; tick++) {
      s.put("nodes", kubeletNode(tick % 2 ? a : b, tick)); // heartbeats, images, managedFields
    }
    await until("20 status updates seen", () => ds.nodeStats.unchanged === 20);
    equal(passes, 1, "no onChange, so no reconcile pass");
    deepEqual(ds.nodes(), before);
    // A change the agent reads is still one.
    s.put("nodes", kubeletNode({ ...a, ips: ["192.0.2.11"] }, 21));
    await until("new address", () => ds.nodes()[0]?.addresses[0] === "192.0.2.11");
    equal(passes, 2);
  });
});

Deno.test("kubernetes: watch-list and a paged relist after 410 converge to the same nodes", async () => {
  await withCluster(async (s, make) => {
    for (let i = 1; i <= 7; i++) {
      s.put("nodes", node(`n${i}`, { cidrs: [`10.244.${i}.0/24`], ips: [`192.0.2.${i}`] }));
    }
    const paged = make(s);
    const streamed = make(s, { watchList: true });
    await Promise.all([paged.start(() => {}), streamed.start(() => {})]);
    equal(streamed.nodeStats.pages, 0, "watch-list: no LIST");
    ok(paged.nodeStats.pages >= 4, "7 Nodes, 2 a page");
    deepEqual(streamed.nodes(), paged.nodes());
    // Both miss changes during an outage, then the history is compacted: 410, relist.
    await s.setDown(true);
    await until(
      "both saw the outage",
      () => !paged.health().connected && !streamed.health().connected,
    );
    s.remove("nodes", "n2");
    s.put("nodes", node("n3", { cidrs: ["10.244.3.0/24"], ips: ["192.0.2.33"] }, 5));
    s.put("nodes", node("n8", { cidrs: ["10.244.8.0/24"], ips: ["192.0.2.8"] }));
    s.compact();
    const relists = [paged.nodeStats.relists, streamed.nodeStats.relists];
    await s.setDown(false);
    const want = "n1,n3,n4,n5,n6,n7,n8";
    await until("both relisted", () => names(paged) === want && names(streamed) === want);
    ok(paged.nodeStats.expired >= 1 && streamed.nodeStats.expired >= 1, "both got 410");
    ok(paged.nodeStats.relists > relists[0]! && streamed.nodeStats.relists > relists[1]!);
    deepEqual(streamed.nodes(), paged.nodes());
    deepEqual(paged.nodes().find((n) => n.name === "n3")?.addresses, ["192.0.2.33"]);
  });
});

Deno.test("kubernetes: a server without watch-list is listed page by page", async () => {
  const s = await startApiServer({ watchList: false });
  try {
    s.put("nodes", node("a", { cidrs: ["10.244.1.0/24"], ips: ["192.0.2.1"] }));
    s.put("nodes", node("b", { cidrs: ["10.244.2.0/24"], ips: ["192.0.2.2"] }));
    s.put("nodes", node("c", { cidrs: ["10.244.3.0/24"], ips: ["192.0.2.3"] }));
    const ds = datastore(s, { watchList: true });
    try {
      await ds.start(() => {});
      await until("listed", () => names(ds) === "a,b,c" && ds.health().connected);
      ok(ds.nodeStats.pages >= 2);
    } finally {
      await ds.close();
    }
  } finally {
    await s.close();
  }
});

Deno.test("kubernetes: an expired continue token restarts the list, never a partial state", async () => {
  await withCluster(async (s, make) => {
    for (let i = 1; i <= 5; i++) {
      s.put("nodes", node(`n${i}`, { cidrs: [`10.244.${i}.0/24`], ips: [`192.0.2.${i}`] }));
    }
    // The second page request of the first list finds its snapshot compacted away.
    let pages = 0;
    const ds = make(s);
    s.barrier(1, (r) => {
      if (r.verb !== "list" || r.resource !== "nodes" || ++pages !== 2) return false;
      s.put("nodes", node("n6", { cidrs: ["10.244.6.0/24"], ips: ["192.0.2.6"] }));
      s.compact();
      return true;
    });
    const seen: string[] = [];
    await ds.start(() => seen.push(names(ds)));
    await until("listed", () => names(ds) === "n1,n2,n3,n4,n5,n6");
    ok(ds.nodeStats.expired >= 1, "the continue token was answered 410");
    deepEqual(seen, ["n1,n2,n3,n4,n5,n6"], "one complete snapshot, no partial one before it");
  });
});

Deno.test("kubernetes: API server gone for a while keeps every node, recovery converges", async () => {
  await withCluster(async (s, make) => {
    for (let i = 1; i <= 4; i++) {
      s.put("nodes", node(`n${i}`, { cidrs: [`10.244.${i}.0/24`], ips: [`192.0.2.${i}`] }));
    }
    const ds = make(s);
    await ds.start(() => {});
    const before = ds.nodes();
    for (const mode of ["refuse", "503"] as const) {
      await s.setDown(true, mode);
      await until(`down (${mode})`, () => !ds.health().connected);
      // Several failed relists and watches later, nothing is forgotten.
      await new Promise((r) => setTimeout(r, 400));
      deepEqual(ds.nodes(), before, `no node dropped while down (${mode})`);
      await s.setDown(false);
      await until(`up (${mode})`, () => ds.health().connected);
    }
    s.failNext(3, { match: (r) => r.verb === "list" || r.verb === "watch" });
    s.dropWatches();
    s.remove("nodes", "n4");
    await until("converged after failures", () => names(ds) === "n1,n2,n3");
    deepEqual(ds.nodes(), before.slice(0, 3));
  });
});
