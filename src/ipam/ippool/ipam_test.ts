import assert from "node:assert/strict";
import { CniError } from "../../errors.ts";
import { IpamExhaustedError } from "../errors.ts";
import type { IpamOwner } from "../types.ts";
import { KubeClient } from "./client.ts";
import { FakeKube } from "./fake_kube.ts";
import { IppoolIpam } from "./ipam.ts";
import {
  allocationObject,
  LABEL_CONTAINER,
  LABEL_POD,
  ownerKeys,
  parseAllocation,
  releasedObject,
} from "./objects.ts";

function setup(spec: Record<string, unknown>) {
  const kube = new FakeKube();
  kube.put("ippools", { metadata: { name: "p" }, spec });
  const ipam = (node: string, opts: { blindDraws?: number } = {}) =>
    new IppoolIpam({
      config: { pool: "p", kubeconfig: "/k", nodeName: node, timeoutMs: 1000, routes: [] },
      connect: () =>
        Promise.resolve(
          new KubeClient({
            endpoint: { server: "http://fake" },
            transport: kube.transport,
            timeoutMs: 1000,
          }),
        ),
      hostname: () => "unused",
      ...opts,
    });
  const pod = (name: string, phase = "Running", ns = "ns") =>
    kube.put("pods", { metadata: { name, namespace: ns }, status: { phase } });
  const allocs = () => kube.list("ipallocations").map((o) => parseAllocation(o)!);
  return { kube, ipam, pod, allocs };
}

const owner = (c: string, pod?: string): IpamOwner =>
  pod ? { containerId: c, ifname: "eth0", podNamespace: "ns", podName: pod } : {
    containerId: c,
    ifname: "eth0",
  };
const ipOf = (r: { ips: { address: string }[] }) => r.ips[0]!.address.split("/")[0]!;

Deno.test("ADD creates one IPAllocation named by the address; a repeated ADD writes nothing", async () => {
  const { kube, ipam, pod, allocs } = setup({ cidr: "10.50.0.0/24", gateway: "10.50.0.254" });
  pod("web-0");
  const a = ipam("node-a");
  const r = await a.add(owner("c1", "web-0"));
  assert.equal(r.ips.length, 1);
  assert.match(r.ips[0]!.address, /^10\.50\.0\.\d+\/24$/);
  assert.equal(r.ips[0]!.gateway, "10.50.0.254");
  const [only, ...rest] = allocs();
  assert.equal(rest.length, 0);
  assert.equal(only!.name, ipOf(r));
  assert.deepEqual(
    [only!.state, only!.node, only!.containerId, only!.podName],
    ["Allocated", "node-a", "c1", "web-0"],
  );
  const writes = kube.writes.length;
  assert.deepEqual(await a.add(owner("c1", "web-0")), r);
  assert.equal(kube.writes.length, writes, "idempotent ADD writes nothing");
  // GET pool, list the pod's allocations, create; again: GET, list.
  assert.equal(kube.requests.length, 3 + 2);
});

Deno.test("sticky: after DEL the pod gets its address again on another node", async () => {
  const { ipam, pod, allocs } = setup({ cidr: "10.50.0.0/24" });
  pod("web-0");
  const first = ipOf(await ipam("node-a").add(owner("c1", "web-0")));
  await ipam("node-a").del(owner("c1", "web-0"));
  assert.equal(allocs()[0]!.state, "Released");
  await ipam("node-a").del(owner("c1", "web-0")); // repeated DEL: fine, nothing held
  // Another pod meanwhile does not take the released address while free ones remain.
  pod("other");
  assert.notEqual(ipOf(await ipam("node-c").add(owner("x1", "other"))), first);
  const again = await ipam("node-b").add(owner("c2", "web-0"));
  assert.equal(ipOf(again), first);
  const mine = allocs().find((a) => a.ip === first)!;
  assert.deepEqual([mine.state, mine.node, mine.containerId], ["Allocated", "node-b", "c2"]);
  // A late DEL of the old container must not release the new holder's address.
  await ipam("node-a").del(owner("c1", "web-0"));
  assert.equal(allocs().find((a) => a.ip === first)!.state, "Allocated");
});

Deno.test("reserved ranges, gateway, network and broadcast are never handed out; then exhausted", async () => {
  const { ipam, allocs } = setup({
    ipPoolSubs: [{
      range: "10.60.0.0-10.60.0.15/28",
      reservedRanges: ["10.60.0.3-10.60.0.6/28"],
      gateway: "10.60.0.9",
    }],
  });
  const got = new Set<string>();
  for (let i = 0; i < 9; i++) got.add(ipOf(await ipam(`n${i % 3}`).add(owner(`c${i}`))));
  assert.deepEqual(
    [...got].sort((a, b) => Number(a.split(".")[3]) - Number(b.split(".")[3])),
    [
      "10.60.0.1",
      "10.60.0.2",
      "10.60.0.7",
      "10.60.0.8",
      "10.60.0.10",
      "10.60.0.11",
      "10.60.0.12",
      "10.60.0.13",
      "10.60.0.14",
    ],
  );
  await assert.rejects(
    ipam("n0").add(owner("c-full")),
    (e: unknown) =>
      e instanceof IpamExhaustedError && e.code === 100 &&
      /IPPool p has no free IPv4 address \(10\.60\.0\.0\/28/.test(e.message),
  );
  assert.equal(allocs().length, 9);
  await assert.rejects(ipam("n0").status(), IpamExhaustedError);
});

Deno.test("a pool full of released addresses: a few are fetched, one taken, no full listing", async () => {
  const { kube, ipam, pod, allocs } = setup({ cidr: "10.71.0.0/28" }); // .2-.14: 13 addresses
  for (let i = 2; i <= 14; i++) {
    const o = owner(`g${i}`, `gone${i}`);
    const held = allocationObject({
      pool: "p",
      ip: `10.71.0.${i}`,
      node: "node-a",
      nodeKey: "node-a",
      owner: o,
      keys: await ownerKeys(o),
    });
    (held.metadata as Record<string, unknown>).resourceVersion = "1";
    kube.put("ipallocations", releasedObject(parseAllocation(held)!));
  }
  assert.equal(allocs().filter((a) => a.state === "Released").length, 13);
  pod("new");
  kube.requests.length = 0;
  const ip = ipOf(await ipam("node-b").add(owner("n", "new")));
  const a = allocs().find((x) => x.ip === ip)!;
  assert.deepEqual([a.state, a.podName, a.node], ["Allocated", "new", "node-b"]);
  const lists = kube.requests.filter((r) => r.method === "GET" && r.resource === "ipallocations");
  assert.deepEqual(lists.map((r) => r.labelSelector?.split(",").slice(1).join(",")), [
    `${LABEL_POD}=${(await ownerKeys(owner("n", "new"))).pod}`,
    `!${LABEL_CONTAINER}`,
  ]);
  assert.equal(lists[1]!.limit, "32");
  assert.equal(kube.requests.filter((r) => r.method === "POST").length, 4, "4 blind draws");
});

Deno.test("reclaim: an address held by a deleted pod or a finished pod, never a running one", async () => {
  const { kube, ipam, pod, allocs } = setup({ cidr: "10.70.0.0/29" }); // .2-.6: 5 addresses
  const held: Record<string, string> = {};
  for (const name of ["a", "b", "c", "d", "e"]) {
    pod(name);
    held[name] = ipOf(await ipam("node-a").add(owner(`c-${name}`, name)));
  }
  pod("new1");
  await assert.rejects(ipam("node-b").add(owner("n1", "new1")), IpamExhaustedError);
  kube.remove("pods", "c", "ns");
  assert.equal(ipOf(await ipam("node-b").add(owner("n1", "new1"))), held.c);
  pod("d", "Succeeded");
  pod("new2");
  assert.equal(ipOf(await ipam("node-b").add(owner("n2", "new2"))), held.d);
  pod("e", "Failed");
  pod("new3");
  assert.equal(ipOf(await ipam("node-b").add(owner("n3", "new3"))), held.e);
  pod("new4", "Pending");
  await assert.rejects(ipam("node-b").add(owner("n4", "new4")), IpamExhaustedError);
  const byIp = new Map(allocs().map((a) => [a.ip, a]));
  assert.equal(byIp.get(held.a!)!.podName, "a");
  assert.equal(byIp.get(held.c!)!.podName, "new1");
  assert.equal(byIp.get(held.c!)!.node, "node-b");
  assert.equal(allocs().length, 5);
});

Deno.test("a concurrent creator wins an address: the loser draws another", async () => {
  const { kube, ipam, allocs } = setup({ cidr: "10.80.0.0/28" });
  const stolen: string[] = [];
  kube.beforeServe = (r) => {
    if (r.method !== "POST" || stolen.length >= 3) return;
    // Another node creates the very object this create is about to make.
    const obj = structuredClone(r.body) as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    };
    obj.spec.containerId = `thief-${stolen.length}`;
    kube.put("ipallocations", obj);
    stolen.push(obj.metadata.name);
  };
  const r = await ipam("node-a").add(owner("c1"));
  assert.equal(stolen.length, 3);
  assert.ok(!stolen.includes(ipOf(r)), `${ipOf(r)} is not one of ${stolen.join(", ")}`);
  assert.equal(kube.requests.filter((x) => x.method === "POST" && x.status === 409).length, 3);
  assert.equal(allocs().length, 4);
});

Deno.test("29 concurrent ADDs from 3 nodes fill a 29-address pool with no duplicate", async () => {
  const { kube, ipam, allocs } = setup({ cidr: "10.81.0.0/27", gateway: "10.81.0.30" });
  const results = await Promise.all(
    Array.from({ length: 29 }, (_, i) => ipam(`node-${i % 3}`).add(owner(`k${i}`))),
  );
  const ips = results.map(ipOf);
  assert.equal(new Set(ips).size, 29, `no duplicate: ${ips.join(" ")}`);
  assert.equal(allocs().length, 29);
  assert.ok(!ips.includes("10.81.0.30"));
  assert.ok(kube.requests.some((x) => x.method === "POST" && x.status === 409), "they did collide");
  await assert.rejects(ipam("node-0").add(owner("one-more")), IpamExhaustedError);
});

Deno.test("two nodes reclaiming one address: the update precondition lets only one win", async () => {
  const { kube, ipam, pod, allocs } = setup({ cidr: "10.82.0.0/30" }); // one address: .2
  pod("old");
  await ipam("node-a").add(owner("c-old", "old"));
  kube.remove("pods", "old", "ns");
  pod("x");
  pod("y");
  const out = await Promise.allSettled([
    ipam("node-b").add(owner("cx", "x")),
    ipam("node-c").add(owner("cy", "y")),
  ]);
  assert.equal(out.filter((o) => o.status === "fulfilled").length, 1);
  const lost = out.find((o) => o.status === "rejected") as PromiseRejectedResult;
  assert.ok(lost.reason instanceof IpamExhaustedError, String(lost.reason));
  assert.ok(["x", "y"].includes(allocs()[0]!.podName!));
});

Deno.test("API unreachable or failing: code 11 and nothing written", async () => {
  const { kube, ipam, pod, allocs } = setup({ cidr: "10.90.0.0/24" });
  pod("web-0");
  const a = ipam("node-a");
  kube.failNext(1, 0); // connection refused on the first request
  await assert.rejects(
    a.add(owner("c1", "web-0")),
    (e: unknown) => e instanceof CniError && e.code === 11,
  );
  kube.failNext(1, 503, (r) => r.method === "POST");
  await assert.rejects(
    a.add(owner("c1", "web-0")),
    (e: unknown) => e instanceof CniError && e.code === 11 && /503/.test(e.message),
  );
  assert.deepEqual(allocs(), []);
  const r = await a.add(owner("c1", "web-0"));
  kube.failNext(5, 503);
  await assert.rejects(
    a.del(owner("c1", "web-0")),
    (e: unknown) => e instanceof CniError && e.code === 11,
  );
  await assert.rejects(a.gc([]), (e: unknown) => e instanceof CniError && e.code === 11);
  await assert.rejects(a.status(), (e: unknown) => e instanceof CniError && e.code === 11);
  assert.equal(allocs()[0]!.state, "Allocated");
  assert.equal(allocs()[0]!.ip, ipOf(r));
});

Deno.test("a missing pool is code 7; requested IPs are refused with code 7", async () => {
  const { kube, ipam } = setup({ cidr: "10.91.0.0/24" });
  await assert.rejects(
    ipam("n").add(owner("c1"), { requestedIps: ["10.91.0.9"] }),
    (e: unknown) => e instanceof CniError && e.code === 7 && /10\.91\.0\.9/.test(e.message),
  );
  kube.remove("ippools", "p");
  for (const call of [() => ipam("n").add(owner("c1")), () => ipam("n").status()]) {
    await assert.rejects(
      call(),
      (e: unknown) =>
        e instanceof CniError && e.code === 7 && /Cannot find IPPool p/.test(e.message),
    );
  }
  assert.equal(kube.writes.length, 0);
});

Deno.test("dual-stack: one address per family; a failing family gives back the other", async () => {
  const { ipam, allocs } = setup({
    ipPoolSubs: [{ range: "10.92.0.0/24" }, { range: "fd00:92::10-fd00:92::10/64" }],
  });
  const r = await ipam("n").add(owner("c1"));
  assert.deepEqual(r.ips.map((i) => i.family), [4, 6]);
  assert.equal(r.ips[1]!.address, "fd00:92::10/64");
  assert.equal(r.ips[1]!.gateway, "fd00:92::1");
  await assert.rejects(ipam("n").add(owner("c2")), IpamExhaustedError);
  assert.equal(allocs().length, 2, "c2's IPv4 address was given back (deleted: no pod)");
  await ipam("n").check(owner("c1"), r.ips.map((i) => i.address));
});

Deno.test("GC releases only this node's allocations missing from the valid attachments", async () => {
  const { ipam, pod, allocs } = setup({ cidr: "10.93.0.0/24" });
  pod("keep");
  pod("stale");
  await ipam("node-a").add(owner("keep", "keep"));
  await ipam("node-a").add(owner("stale", "stale"));
  await ipam("node-a").add(owner("anon"));
  await ipam("node-b").add(owner("other"));
  await ipam("node-a").gc([{ containerId: "keep", ifname: "eth0" }]);
  const state = Object.fromEntries(allocs().map((a) => [a.podName ?? a.containerId, a.state]));
  assert.deepEqual(state, { keep: "Allocated", stale: "Released", other: "Allocated" });
});

Deno.test("CHECK: the owner must hold every address", async () => {
  const { ipam } = setup({ cidr: "10.94.0.0/24" });
  const a = ipam("n");
  await assert.rejects(
    a.check(owner("c1"), []),
    (e: unknown) => e instanceof CniError && e.code === 3,
  );
  const ip = ipOf(await a.add(owner("c1")));
  await a.check(owner("c1"), [`${ip}/24`]);
  // The address is picked at random: ask about one it cannot be.
  const other = ip === "10.94.0.250" ? "10.94.0.251" : "10.94.0.250";
  await assert.rejects(
    a.check(owner("c1"), [other]),
    (e: unknown) =>
      e instanceof CniError && e.code === 3 && e.message.includes(`does not hold ${other}`),
  );
  await a.status();
});
