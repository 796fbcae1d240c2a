import assert from "node:assert/strict";
import { M, memoryLogger } from "../observe/mod.ts";
import { fakeNode, peer, routesOf } from "../testing/mod.ts";
import { PassTally } from "./pass.ts";
import { desiredStep, mayDelete, type Observed, trustStep } from "./steps.ts";

const HOSTILE = [
  // steal: b's subnet, but the ownership record says b
  peer("s", 2, { ownership: { source: "claim", subnets: [] } }),
  peer("o", 1), // overlaps this node's own subnet
  peer("w", 0, { podCidrs: ["128.0.0.0/1"] }),
  peer("v", 0, { podCidrs: ["10.96.0.0/12"] }),
  peer("m", 0, { podCidrs: ["169.254.169.254/32"] }),
  peer("g", 0, { podCidrs: ["192.168.1.0/25"] }),
  peer("x", 7, { addresses: ["192.168.1.255"] }),
];

Deno.test("pass: hostile entries are rejected, counted and logged once; valid routes stay; ready", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3), ...HOSTILE] });
  const rec = n.reconciler();
  const r = await rec.resync();
  assert.equal(r.ready, true, r.notReady.join("; "));
  assert.deepEqual(routesOf(n.handle), [
    "10.244.2.0/24 via 192.168.1.12",
    "10.244.3.0/24 via 192.168.1.13",
  ]);
  const by = (reason: string) => n.metrics.value(M.peersRejected, { reason });
  assert.equal(by("not-owned"), 1);
  assert.equal(by("overlap"), 1);
  assert.equal(by("outside-cluster-cidr"), 4);
  assert.equal(by("bad-gateway"), 1);
  assert.equal(r.rejects.length, 7);
  const warns = n.log.lines.filter((l) => l.msg === "datastore value rejected");
  assert.equal(warns.length, 7);
  assert.ok(warns.every((l) => l.level === "warn"));
  assert.ok(
    warns.some((l) => /node=x field=addresses value=192.168.1.255 reason=bad-gateway/.test(l.text)),
  );
  // Second pass: nothing new counted or logged, nothing written.
  n.log.lines.length = 0;
  const r2 = await rec.resync();
  assert.equal(r2.writes, 0);
  assert.equal(by("outside-cluster-cidr"), 4);
  assert.deepEqual(n.log.lines.filter((l) => l.level === "info" || l.level === "warn"), []);
  assert.equal(n.metrics.value(M.peersRejectedNow, { reason: "outside-cluster-cidr" }), 4);
});

Deno.test("pass: a datastore that lost its authority never deletes; readiness follows it live", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  const rec = n.reconciler();
  await rec.resync();
  assert.equal(rec.readiness().ready, true);
  n.ds.disconnect("etcd away");
  assert.deepEqual(rec.readiness(), {
    ready: false,
    reasons: ["datastore not connected: etcd away"],
  });
  n.ds.deleteNode("c");
  await rec.resync();
  assert.equal(routesOf(n.handle).length, 2, "no route deleted while not authoritative");
  n.ds.reconnect();
  assert.equal(rec.readiness().ready, false, "not ready until a full pass saw the store back");
  await rec.resync();
  assert.equal(rec.readiness().ready, true);
  assert.deepEqual(routesOf(n.handle), ["10.244.2.0/24 via 192.168.1.12"]);
});

Deno.test("steps: trust and desired are pure functions of what was read", () => {
  const n = fakeNode();
  const observed: Observed = {
    nodeIps: ["192.168.1.10"],
    health: { connected: true, events: 0 },
    nodes: [
      peer("a", 1, {
        addresses: ["192.168.1.10"],
        ownership: { source: "claim", subnets: ["10.244.1.0/24"] },
      }),
      peer("b", 2, { ownership: { source: "claim", subnets: ["10.244.2.0/24"] } }),
      peer("z", 2, { ownership: { source: "claim", subnets: ["10.244.2.0/24"] } }),
    ],
    localAddrs: [{ linkIndex: 2, linkName: "eth0", cidr: "192.168.1.10/24" }],
    podAddresses: [],
    entryRejects: [],
  };
  const trusted = trustStep(n.config, observed);
  assert.deepEqual(trusted.rejects.map((r) => `${r.node} ${r.reason}`), ["b overlap", "z overlap"]);
  const desired = desiredStep(n.config, { observed, trusted });
  assert.deepEqual(desired.routes, []);
  assert.deepEqual(desired.selfPodCidrs, ["10.244.1.0/24"]);
  assert.equal(mayDelete(observed, desired), true);
  assert.equal(
    mayDelete({ ...observed, health: { ...observed.health, authoritative: false } }, desired),
    false,
  );
});

Deno.test("steps: a failing step keeps what earlier steps counted", async () => {
  const pass = new PassTally(memoryLogger());
  pass.wrote(await pass.step("first", () => 3));
  pass.wrote(
    await pass.step("second", () => {
      throw new Error("boom");
    }),
  );
  assert.equal(pass.writes, 3);
  assert.deepEqual(pass.notReady, ["second: boom"]);
  assert.equal(pass.errors.length, 1);
});

Deno.test("pass: a failed route write keeps the counts of what applied", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("c", 3)] });
  n.nl.failNext("addRoute", new Error("EINVAL"));
  const r = await n.reconciler().resync();
  const added = n.metrics.value(M.routeWrites, { op: "add" });
  assert.equal(added, routesOf(n.handle).length);
  assert.ok(r.writes >= added);
});

Deno.test("pass (bridge mode): the bridge keeps one node-subnet gateway per family; other addresses stay", async () => {
  const n = fakeNode({ peers: [peer("b", 2)], flags: ["--pod-mode=bridge"] });
  const rec = n.reconciler();
  await rec.resync();
  const br = n.handle.getLink("hostgate0")!;
  n.handle.addAddr({ linkIndex: br.index, cidr: "10.244.9.1/24" }); // an old subnet's gateway
  n.handle.addAddr({ linkIndex: br.index, cidr: "10.244.100.1/22" }); // an IPPool gateway
  await rec.resync();
  const addrs = n.handle.listAddrs({ linkIndex: br.index }).map((a) => a.cidr).sort();
  assert.deepEqual(addrs, ["10.244.1.1/24", "10.244.100.1/22"]);
});

Deno.test("pass: a kubeconfig opened up to others is put back to 0600 at the next pass", async () => {
  const n = fakeNode({ peers: [peer("b", 2)], flags: ["--kubeconfig=/etc/hostgate/kubeconfig"] });
  await n.fs.mkdirp("/etc/hostgate");
  await n.fs.writeAtomic("/etc/hostgate/kubeconfig", "apiVersion: v1\n", { mode: 0o600 });
  const rec = n.reconciler();
  await rec.resync();
  assert.equal(n.fs.modeOf("/etc/hostgate/kubeconfig"), 0o600);
  n.fs.setMode("/etc/hostgate/kubeconfig", 0o644);
  const r = await rec.resync();
  assert.equal(n.fs.modeOf("/etc/hostgate/kubeconfig"), 0o600);
  assert.equal(n.fs.file("/etc/hostgate/kubeconfig"), "apiVersion: v1\n");
  assert.equal(r.ready, true);
  assert.ok(n.log.lines.some((l) => l.msg.includes("now 0600")));
});
