/**
 * The etcd datastore against a real etcd (Debian's etcd-server), started on
 * loopback by the fixture: registration, the allocation race, deletes seen by
 * a watcher, lease expiry, watch resume across a restart and after a network
 * break with compaction. No root needed; nothing touches the network setup.
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { type EtcdFixture, startTcpProxy, withEtcd } from "./helpers/etcd.ts";
import { until } from "./helpers/until.ts";
import { EtcdDatastore, type EtcdDatastoreOptions } from "../src/datastore/etcd/datastore.ts";
import { etcdKeys } from "../src/datastore/etcd/mod.ts";

const PREFIX = "/hgds/";
const keys = etcdKeys(PREFIX);

function datastore(
  endpoints: string[],
  extra: Partial<EtcdDatastoreOptions> = {},
): EtcdDatastore {
  return new EtcdDatastore({
    endpoints,
    clusterCidr: "10.244.0.0/16",
    prefix: PREFIX,
    backoff: { initialMs: 50, maxMs: 500 },
    callTimeoutMs: 2000,
    log: Deno.env.get("HGDS_LOG") ? (m) => console.error(m) : () => {},
    ...extra,
  });
}

/** A raw client for checks and outside changes; always closed. */
async function withClient<T>(etcd: EtcdFixture, fn: (c: Etcd3) => Promise<T>): Promise<T> {
  const c = new Etcd3({ hosts: etcd.endpoints });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Closes every datastore, even when the test failed. */
async function closeAll(stores: EtcdDatastore[]): Promise<void> {
  await Promise.all(stores.map((s) => s.close()));
}

Deno.test("etcd: register, snapshot, leased entry, subnet claim, re-register keeps the subnet", async () => {
  await withEtcd(async (etcd) => {
    const a = datastore(etcd.endpoints);
    const b = datastore(etcd.endpoints);
    try {
      const na = await a.register({ name: "node-a", addresses: ["192.168.7.1"] });
      assert.deepEqual(na.podCidrs, ["10.244.0.0/24"]);
      let changes = 0;
      await b.start(() => changes++);
      assert.deepEqual(b.nodes().map((n) => n.name), ["node-a"]);
      assert.equal(b.health().connected, true);
      const nb = await b.register({
        name: "node-b",
        addresses: ["192.168.7.2"],
        vtep: { mac: "02:00:00:00:00:02", ip: "10.244.1.0" },
      });
      assert.deepEqual(nb.podCidrs, ["10.244.1.0/24"]);
      // Same node again with a new address: same subnet, and the watcher sees the address.
      const again = await a.register({ name: "node-a", addresses: ["192.168.7.11"] });
      assert.deepEqual(again.podCidrs, ["10.244.0.0/24"]);
      await until(
        "the new address",
        () => b.nodes().find((n) => n.name === "node-a")?.addresses[0] === "192.168.7.11",
      );
      assert.ok(changes >= 2);
      assert.equal(b.health().events, changes);
      await withClient(etcd, async (c) => {
        const entry = await c.get(keys.node("node-a")).exec();
        assert.notEqual(entry.kvs[0]!.lease, "0", "node entry must be leased");
        assert.deepEqual(JSON.parse(entry.kvs[0]!.value.toString()), {
          name: "node-a",
          podCidrs: ["10.244.0.0/24"],
          addresses: ["192.168.7.11"],
        });
        const claims = await c.getAll().prefix(keys.subnets).strings();
        assert.deepEqual(claims, {
          [keys.subnet("10.244.0.0/24")]: "node-a",
          [keys.subnet("10.244.1.0/24")]: "node-b",
        });
        const claim = await c.get(keys.subnet("10.244.0.0/24")).exec();
        assert.equal(claim.kvs[0]!.lease, "0", "subnet claims outlive the lease");
      });
    } finally {
      await closeAll([a, b]);
    }
  });
});

Deno.test("etcd: five agents registering at once get five distinct subnets", async () => {
  await withEtcd(async (etcd) => {
    const stores = Array.from({ length: 5 }, () => datastore(etcd.endpoints));
    try {
      const nodes = await Promise.all(
        stores.map((s, i) => s.register({ name: `race-${i}`, addresses: [`192.168.8.${i + 1}`] })),
      );
      const subnets = nodes.map((n) => n.podCidrs[0]!);
      assert.equal(new Set(subnets).size, 5, `subnets: ${subnets}`);
      await withClient(etcd, async (c) => {
        const claims = await c.getAll().prefix(keys.subnets).strings();
        assert.equal(Object.keys(claims).length, 5);
        for (const n of nodes) assert.equal(claims[keys.subnet(n.podCidrs[0]!)], n.name);
      });
    } finally {
      await closeAll(stores);
    }
  });
});

Deno.test("etcd: a deleted node disappears from another agent's snapshot", async () => {
  await withEtcd(async (etcd) => {
    const a = datastore(etcd.endpoints);
    const b = datastore(etcd.endpoints);
    const c = datastore(etcd.endpoints);
    try {
      await a.register({ name: "node-a", addresses: ["192.168.9.1"] });
      const gone = await a.register({ name: "node-gone", addresses: ["192.168.9.2"] });
      let changes = 0;
      await b.start(() => changes++);
      assert.deepEqual(b.nodes().map((n) => n.name), ["node-a", "node-gone"]);
      // Deleted from outside (an admin with etcdctl).
      await withClient(etcd, (cl) => cl.delete().key(keys.node("node-a")).exec());
      await until("node-a gone", () => !b.nodes().some((n) => n.name === "node-a"));
      assert.ok(changes >= 1);
      // Removed through the admin call: the entry and the subnet claim go.
      assert.equal(await a.removeNode("node-gone"), true);
      await until("node-gone gone", () => b.nodes().length === 0);
      assert.equal(await a.removeNode("node-gone"), false);
      const reuse = await c.register({ name: "node-c", addresses: ["192.168.9.3"] });
      // node-a's claim remains (its owner may come back), node-gone's subnet is free again.
      assert.deepEqual(reuse.podCidrs, gone.podCidrs);
    } finally {
      await closeAll([a, b, c]);
    }
  });
});

Deno.test("etcd: the entry of an agent that stopped keeping its lease alive expires", async () => {
  await withEtcd(async (etcd) => {
    const dead = datastore(etcd.endpoints, { leaseTtlSeconds: 2 });
    const watcher = datastore(etcd.endpoints);
    let back: EtcdDatastore | undefined;
    try {
      const first = await dead.register({ name: "node-dead", addresses: ["192.168.10.1"] });
      await watcher.start(() => {});
      assert.equal(watcher.nodes().length, 1);
      await dead.close(); // stops the keepalive, does not revoke
      const t0 = performance.now();
      await until("lease expiry", () => watcher.nodes().length === 0, 8000);
      assert.ok(performance.now() - t0 >= 1000, "expired before the TTL");
      // The node comes back: it gets the subnet it claimed before.
      back = datastore(etcd.endpoints, { leaseTtlSeconds: 2 });
      const again = await back.register({ name: "node-dead", addresses: ["192.168.10.1"] });
      assert.deepEqual(again.podCidrs, first.podCidrs);
      await until("node back", () => watcher.nodes().length === 1);
    } finally {
      await closeAll([dead, watcher, ...(back ? [back] : [])]);
    }
  });
});

Deno.test("etcd: the watch resumes after etcd restarts; health follows", async () => {
  await withEtcd(async (etcd) => {
    const a = datastore(etcd.endpoints, { leaseTtlSeconds: 10 });
    const logs: string[] = [];
    const w = datastore(etcd.endpoints, { log: (m) => logs.push(m) });
    let late: EtcdDatastore | undefined;
    try {
      await a.register({ name: "node-a", addresses: ["192.168.11.1"] });
      await w.start(() => {});
      assert.equal(w.health().connected, true);
      await etcd.stop();
      await until("disconnected", () => !w.health().connected);
      assert.match(w.health().lastError ?? "", /^Cannot watch etcd: /);
      await etcd.restart();
      late = datastore(etcd.endpoints);
      await late.register({ name: "node-late", addresses: ["192.168.11.2"] });
      await until(
        "node-late via the resumed watch",
        () => w.nodes().some((n) => n.name === "node-late"),
      );
      await until("connected", () => w.health().connected);
      assert.equal(w.health().lastError, undefined);
      // node-a's lease survived the restart (keepalive resumed).
      assert.deepEqual(w.nodes().map((n) => n.name), ["node-a", "node-late"]);
      // Resumed from its revision, not listed again.
      assert.equal(logs.some((l) => l.includes("listing again")), false, logs.join("\n"));
    } finally {
      await closeAll([a, w, ...(late ? [late] : [])]);
    }
  });
});

Deno.test("etcd: after a network break the watch resumes and replays what it missed", async () => {
  await withEtcd(async (etcd) => {
    const proxy = startTcpProxy(etcd.endpoints[0]!);
    const logs: string[] = [];
    const w = datastore([proxy.endpoint], { log: (m) => logs.push(m) });
    const writer = datastore(etcd.endpoints);
    try {
      await writer.register({ name: "node-x", addresses: ["192.168.14.1"] });
      let changes = 0;
      await w.start(() => changes++);
      assert.equal(changes, 1, "the initial list is a change");
      changes = 0;
      await proxy.cut();
      await until("disconnected", () => !w.health().connected);
      await writer.register({ name: "node-y", addresses: ["192.168.14.2"] });
      await writer.register({ name: "node-x", addresses: ["192.168.14.9"] });
      await writer.removeNode("node-y");
      await writer.register({ name: "node-w", addresses: ["192.168.14.3"] });
      assert.equal(changes, 1, "one change: the fault itself (the agent re-reads readiness)");
      assert.deepEqual(w.nodes().map((n) => n.name), ["node-x"], "the last good list is kept");
      proxy.restore();
      await until("replayed", () =>
        w.nodes().map((n) => `${n.name}=${n.addresses}`).join() ===
          "node-w=192.168.14.3,node-x=192.168.14.9");
      assert.ok(changes >= 1);
      await until("connected", () => w.health().connected);
      assert.equal(logs.some((l) => l.includes("listing again")), false, logs.join("\n"));
    } finally {
      await closeAll([w, writer]);
      await proxy.close();
    }
  });
});

Deno.test("etcd: an agent cut off longer than its lease registers again", async () => {
  await withEtcd(async (etcd) => {
    const proxy = startTcpProxy(etcd.endpoints[0]!);
    const a = datastore([proxy.endpoint], { leaseTtlSeconds: 2 });
    const w = datastore(etcd.endpoints);
    try {
      const first = await a.register({ name: "node-a", addresses: ["192.168.15.1"] });
      await w.start(() => {});
      await proxy.cut();
      await until("expired", () => w.nodes().length === 0, 8000);
      proxy.restore();
      await until("registered again", () => w.nodes().length === 1, 10_000);
      assert.deepEqual(w.nodes()[0]!.podCidrs, first.podCidrs);
      await withClient(etcd, async (c) => {
        const entry = await c.get(keys.node("node-a")).exec();
        assert.notEqual(entry.kvs[0]!.lease, "0");
      });
    } finally {
      await closeAll([a, w]);
      await proxy.close();
    }
  });
});

Deno.test("etcd: after a network break past a compaction, the watcher lists again", async () => {
  await withEtcd(async (etcd) => {
    const proxy = startTcpProxy(etcd.endpoints[0]!);
    const w = datastore([proxy.endpoint]);
    const writer = datastore(etcd.endpoints);
    try {
      await writer.register({ name: "node-x", addresses: ["192.168.12.1"] });
      await w.start(() => {});
      assert.deepEqual(w.nodes().map((n) => n.name), ["node-x"]);
      await proxy.cut();
      await until("disconnected", () => !w.health().connected);
      await writer.register({ name: "node-y", addresses: ["192.168.12.2"] });
      await writer.removeNode("node-x");
      await withClient(etcd, async (c) => {
        const rev = (await c.get("any").exec()).header.revision;
        await c.kv.compact({ revision: rev, physical: true });
      });
      proxy.restore();
      await until("relisted", () => w.nodes().map((n) => n.name).join() === "node-y");
      await until("connected", () => w.health().connected);
      // And the new watch works.
      await writer.register({ name: "node-z", addresses: ["192.168.12.3"] });
      await until("node-z", () => w.nodes().length === 2);
    } finally {
      await closeAll([w, writer]);
      await proxy.close();
    }
  });
});

Deno.test("etcd: dual-stack claims; a full cluster CIDR reuses only claims of vanished nodes", async () => {
  await withEtcd(async (etcd) => {
    const opts = { clusterCidr: "10.9.0.0/23,fd00:9::/63" };
    const stores = [1, 2, 3].map(() => datastore(etcd.endpoints, opts));
    const [s1, s2, s3] = stores as [EtcdDatastore, EtcdDatastore, EtcdDatastore];
    try {
      const n1 = await s1.register({ name: "n1", addresses: ["192.168.16.1"] });
      const n2 = await s2.register({ name: "n2", addresses: ["192.168.16.2"] });
      assert.deepEqual(n1.podCidrs, ["10.9.0.0/24", "fd00:9::/64"]);
      assert.deepEqual(n2.podCidrs, ["10.9.1.0/24", "fd00:9:0:1::/64"]);
      // Both nodes alive: nothing to give.
      await assert.rejects(
        s3.register({ name: "n3", addresses: ["192.168.16.3"] }),
        /^SubnetExhaustedError: Cannot allocate pod subnet: cluster CIDR 10\.9\.0\.0\/23 has no free \/24$/,
      );
      // n1's entry vanishes (expired or deleted); its claims remain until someone needs them.
      await withClient(etcd, (c) => c.delete().key(keys.node("n1")).exec());
      const n3 = await s3.register({ name: "n3", addresses: ["192.168.16.3"] });
      assert.deepEqual(n3.podCidrs, n1.podCidrs);
      await withClient(etcd, async (c) => {
        assert.deepEqual(await c.getAll().prefix(keys.subnets).strings(), {
          [keys.subnet("10.9.0.0/24")]: "n3",
          [keys.subnet("10.9.1.0/24")]: "n2",
          [keys.subnet("fd00:9::/64")]: "n3",
          [keys.subnet("fd00:9:0:1::/64")]: "n2",
        });
      });
    } finally {
      await closeAll(stores);
    }
  });
});

Deno.test("etcd: unreachable at start, then reachable: retries and connects", async () => {
  await withEtcd(async (etcd) => {
    await etcd.stop();
    const w = datastore(etcd.endpoints, { callTimeoutMs: 500 });
    try {
      let changes = 0;
      await w.start(() => changes++);
      assert.equal(w.health().connected, false);
      assert.match(w.health().lastError ?? "", /^Cannot list nodes in etcd: /);
      await assert.rejects(w.register({ name: "n", addresses: ["192.168.13.1"] }));
      await etcd.restart();
      const other = datastore(etcd.endpoints);
      try {
        await other.register({ name: "node-o", addresses: ["192.168.13.2"] });
      } finally {
        await other.close();
      }
      await until("connected and listed", () => w.health().connected && w.nodes().length === 1);
      assert.ok(changes >= 1);
    } finally {
      await w.close();
    }
  });
});

Deno.test("etcd: the datastore works from a deno bundle (protos shimmed, nothing left behind)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hgds-bundle-" });
  try {
    const js = `${dir}/entry.js`;
    const entry = new URL("./helpers/etcd_bundle_entry.ts", import.meta.url).pathname;
    const b = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "--output", js, entry],
    }).output();
    assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
    const before = [...Deno.readDirSync("/tmp")].filter((e) =>
      e.name.startsWith("hostgate-etcd3-")
    );
    await withEtcd(async (etcd) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", "--no-lock", js, etcd.endpoints[0]!],
        cwd: dir,
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const got = JSON.parse(new TextDecoder().decode(out.stdout));
      const node = { name: "bundled", podCidrs: ["10.244.0.0/24"], addresses: ["192.168.17.1"] };
      const owned = { ...node, ownership: { source: "claim", subnets: node.podCidrs } };
      assert.deepEqual(got, { node, nodes: [owned], dirname: "undefined" });
    });
    const after = [...Deno.readDirSync("/tmp")].filter((e) => e.name.startsWith("hostgate-etcd3-"));
    assert.equal(after.length, before.length, "temp proto dir left behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
