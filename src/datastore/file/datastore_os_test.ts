import assert from "node:assert/strict";
import {
  deleteNodeEntry,
  type DirWatch,
  FileDatastore,
  type FileDatastoreOptions,
  nodeEntryPath,
  readNodeEntries,
  writeNodeEntry,
} from "./datastore.ts";
import { SubnetExhaustedError } from "../subnets.ts";
import { type FileSystem, RealFileSystem } from "../../system/fs.ts";
import { TEMP_DIR, withTempDir } from "../../system/os_testing.ts";
import { until } from "../../../tests/helpers/until.ts";

const CLUSTER = "10.244.0.0/16";

const withDir = (fn: (dir: string) => Promise<void>) =>
  withTempDir("hgds-file-", (dir) => fn(`${dir}/cluster`));

function store(dir: string, extra: Partial<FileDatastoreOptions> = {}): FileDatastore {
  return new FileDatastore({ dir, clusterCidr: CLUSTER, log: () => {}, ...extra });
}

/** A watch that never reports anything: only the periodic rescan can see changes. */
function silentWatch(): DirWatch {
  let release: () => void = () => {};
  const closed = new Promise<void>((r) => (release = r));
  return {
    close: () => release(),
    [Symbol.asyncIterator]: () => ({
      next: () => closed.then(() => ({ done: true as const, value: undefined })),
    }),
  };
}

Deno.test(
  "file: register allocates, stores JSON and keeps the subnet on re-register",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      const b = store(dir);
      try {
        const na = await a.register({ name: "node-a", addresses: ["192.168.1.10"] });
        const nb = await b.register({
          name: "node-b",
          addresses: ["192.168.1.11", "fd00::11"],
          vtep: { mac: "AA:BB:CC:00:00:01", ip: "10.244.1.0" },
        });
        assert.deepEqual(na.podCidrs, ["10.244.0.0/24"]);
        assert.deepEqual(nb.podCidrs, ["10.244.1.0/24"]);
        const onDisk = JSON.parse(await Deno.readTextFile(nodeEntryPath(dir, "node-b")));
        assert.deepEqual(onDisk, {
          name: "node-b",
          podCidrs: ["10.244.1.0/24"],
          addresses: ["192.168.1.11", "fd00::11"],
          vtep: { mac: "aa:bb:cc:00:00:01", ip: "10.244.1.0" },
        });
        // Re-registering with a new address keeps the subnet and updates the address.
        const again = await a.register({ name: "node-a", addresses: ["192.168.1.99"] });
        assert.deepEqual(again.podCidrs, ["10.244.0.0/24"]);
        assert.deepEqual(again.addresses, ["192.168.1.99"]);
        assert.deepEqual(a.nodes().map((n) => [n.name, n.podCidrs[0]]), [
          ["node-a", "10.244.0.0/24"],
          ["node-b", "10.244.1.0/24"],
        ]);
        // Snapshots are frozen copies.
        assert.throws(() => (a.nodes()[0]!.addresses as string[]).push("1.1.1.1"));
        // No temp file left behind.
        const names = [...Deno.readDirSync(`${dir}/nodes`)].map((e) => e.name).sort();
        assert.deepEqual(names, ["node-a.json", "node-b.json"]);
      } finally {
        await a.close();
        await b.close();
      }
    });
  },
);

Deno.test("file: concurrent registrations never share a subnet (flock)", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const stores = Array.from({ length: 8 }, () => store(dir));
    try {
      const nodes = await Promise.all(
        stores.map((s, i) => s.register({ name: `n${i}`, addresses: [`192.168.0.${i + 1}`] })),
      );
      const subnets = nodes.map((n) => n.podCidrs[0]);
      assert.equal(new Set(subnets).size, 8);
      assert.deepEqual(
        (await readNodeEntries({ dir })).map((n) => n.podCidrs[0]).sort(),
        [...subnets].sort(),
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

Deno.test("file: watch sees add, IP change and delete from outside", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const a = store(dir, { rescanIntervalMs: 0 }); // only inotify can notice changes
    let calls = 0;
    try {
      await a.register({ name: "node-a", addresses: ["192.168.1.10"] });
      await a.start(() => calls++);
      assert.equal(a.nodes().length, 1);
      await writeNodeEntry({
        name: "node-b",
        podCidrs: ["10.244.9.0/24"],
        addresses: ["192.168.1.11"],
      }, {
        dir,
      });
      await until("the store to see it", () => a.nodes().some((n) => n.name === "node-b"));
      assert.ok(calls >= 1);
      const before = calls;
      await writeNodeEntry({
        name: "node-b",
        podCidrs: ["10.244.9.0/24"],
        addresses: ["192.168.1.12"],
      }, {
        dir,
      });
      await until(
        "the store to see it",
        () => a.nodes().find((n) => n.name === "node-b")?.addresses[0] === "192.168.1.12",
      );
      assert.ok(calls > before);
      assert.equal(await deleteNodeEntry("node-b", { dir }), true);
      assert.equal(await deleteNodeEntry("node-b", { dir }), false);
      await until("the store to see it", () => a.nodes().length === 1);
      assert.equal(a.health().connected, true);
      assert.equal(a.health().events, calls);
    } finally {
      await a.close();
    }
    // After close: no more callbacks.
    const after = calls;
    await writeNodeEntry({
      name: "node-c",
      podCidrs: ["10.244.3.0/24"],
      addresses: ["192.168.1.13"],
    }, {
      dir,
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls, after);
  });
});

Deno.test(
  "file: a watch event re-reads the entry it names, not the directory",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const real = new RealFileSystem();
      const count = { readDir: 0, readText: 0 };
      const fs: FileSystem = Object.assign(Object.create(real), {
        readDir: (p: string) => (count.readDir++, real.readDir(p)),
        readText: (p: string) => (count.readText++, real.readText(p)),
      });
      const logs: string[] = [];
      const a = store(dir, { fs, rescanIntervalMs: 0, log: (m) => logs.push(m) });
      try {
        await a.register({ name: "node-a", addresses: ["192.168.1.10"] });
        await a.start(() => {});
        const before = { ...count };
        await writeNodeEntry({ name: "b", podCidrs: ["10.244.9.0/24"], addresses: ["10.0.0.2"] }, {
          dir,
        });
        await until("the store to see it", () => a.nodes().some((n) => n.name === "b"));
        await deleteNodeEntry("b", { dir });
        await until("the store to see it", () => a.nodes().length === 1);
        assert.equal(count.readDir, before.readDir, "no directory scan for a named entry");
        assert.ok(
          count.readText - before.readText <= 6, // each entry and its claim
          `${count.readText - before.readText} reads`,
        );
        // A damaged entry falls back to a full scan, which skips and reports it.
        await Deno.writeTextFile(`${dir}/nodes/broken.json`, "{not json");
        await until("the store to see it", () => logs.some((l) => l.includes("broken.json")));
        assert.ok(count.readDir > before.readDir);
        assert.deepEqual(a.nodes().map((n) => n.name), ["node-a"]);
      } finally {
        await a.close();
      }
    });
  },
);

Deno.test("file: periodic rescan catches changes the watch missed", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const a = store(dir, { rescanIntervalMs: 30, watchDir: silentWatch });
    let calls = 0;
    try {
      await a.start(() => calls++);
      assert.deepEqual(a.nodes(), []);
      await writeNodeEntry({ name: "x", podCidrs: ["10.244.1.0/24"], addresses: ["10.0.0.1"] }, {
        dir,
      });
      await until("the store to see it", () => a.nodes().length === 1);
      assert.equal(calls, 1);
    } finally {
      await a.close();
    }
  });
});

Deno.test("file: damaged or foreign entries are skipped and logged once", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const logs: string[] = [];
    const a = store(dir, { rescanIntervalMs: 0, log: (m) => logs.push(m) });
    try {
      await a.register({ name: "node-a", addresses: ["192.168.1.10"] });
      await Deno.writeTextFile(`${dir}/nodes/broken.json`, "{not json");
      // An entry whose name does not match its file name could hijack routes: rejected.
      await Deno.writeTextFile(
        `${dir}/nodes/evil.json`,
        JSON.stringify({ name: "node-a", podCidrs: ["10.244.0.0/24"], addresses: ["6.6.6.6"] }),
      );
      await Deno.writeTextFile(`${dir}/nodes/README`, "not an entry");
      await a.register({ name: "node-a", addresses: ["192.168.1.10"] });
      await a.register({ name: "node-a", addresses: ["192.168.1.10"] });
      assert.deepEqual(a.nodes().map((n) => n.name), ["node-a"]);
      assert.equal(logs.filter((l) => l.includes("broken.json")).length, 1);
      assert.equal(logs.filter((l) => l.includes("evil.json")).length, 1);
      assert.equal(logs.some((l) => l.includes("README")), false);
    } finally {
      await a.close();
    }
  });
});

Deno.test(
  "file: invalid registrations are rejected before touching the directory",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      try {
        await assert.rejects(a.register({ name: "../etc", addresses: [] }), /DNS-1123/);
        await assert.rejects(a.register({ name: "n", addresses: ["1.2.3.999"] }), /address/);
        await assert.rejects(
          a.register({ name: "n", addresses: ["1.2.3.4"], vtep: { mac: "zz", ip: "10.244.0.0" } }),
          /vtep\.mac/,
        );
        assert.deepEqual(await readNodeEntries({ dir }), []);
      } finally {
        await a.close();
      }
    });
  },
);

Deno.test("file: exhaustion throws; a deleted node frees its subnet", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const a = new FileDatastore({ dir, clusterCidr: "10.9.0.0/23", log: () => {} });
    try {
      await a.register({ name: "n1", addresses: ["10.0.0.1"] });
      await a.register({ name: "n2", addresses: ["10.0.0.2"] });
      await assert.rejects(
        a.register({ name: "n3", addresses: ["10.0.0.3"] }),
        SubnetExhaustedError,
      );
      assert.equal(await a.removeNode("n1"), true);
      assert.deepEqual(a.nodes().map((n) => n.name), ["n2"]);
      const n3 = await a.register({ name: "n3", addresses: ["10.0.0.3"] });
      assert.deepEqual(n3.podCidrs, ["10.9.0.0/24"]);
    } finally {
      await a.close();
    }
  });
});

Deno.test("file: dual-stack allocation and custom prefix lengths", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const a = new FileDatastore({
      dir,
      clusterCidr: "10.244.0.0/16,fd00:10:244::/56",
      nodePrefixLength: 25,
      nodePrefixLengthV6: 80,
      log: () => {},
    });
    try {
      const n1 = await a.register({ name: "n1", addresses: ["10.0.0.1", "fd00::1"] });
      const n2 = await a.register({ name: "n2", addresses: ["10.0.0.2", "fd00::2"] });
      assert.deepEqual(n1.podCidrs, ["10.244.0.0/25", "fd00:10:244::/80"]);
      assert.deepEqual(n2.podCidrs, ["10.244.0.128/25", "fd00:10:244:0:1::/80"]);
    } finally {
      await a.close();
    }
  });
});

Deno.test(
  "file: an entry naming another node's subnet owns nothing; the owner keeps it",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      try {
        const first = await a.register({ name: "a", addresses: ["10.0.0.1"] });
        await writeNodeEntry({ name: "b", podCidrs: first.podCidrs, addresses: ["10.0.0.2"] }, {
          dir,
        });
        const again = await a.register({ name: "a", addresses: ["10.0.0.1"] });
        assert.deepEqual(again.podCidrs, first.podCidrs);
        const b = a.nodes().find((n) => n.name === "b")!;
        assert.deepEqual(b.podCidrs, first.podCidrs, "the entry says so...");
        assert.deepEqual(b.ownership, { source: "claim", subnets: [] }, "...but owns nothing");
        assert.deepEqual(a.nodes().find((n) => n.name === "a")!.ownership?.subnets, first.podCidrs);
      } finally {
        await a.close();
      }
    });
  },
);

Deno.test(
  "file: the nodes folder gone is a fault, not an empty cluster; it recovers",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir, { rescanIntervalMs: 0 });
      let events = 0;
      try {
        await a.register({ name: "a", addresses: ["10.0.0.1"] });
        await writeNodeEntry({ name: "b", podCidrs: ["10.244.7.0/24"], addresses: ["10.0.0.2"] }, {
          dir,
        });
        await a.start(() => events++);
        await until("both nodes", () => a.nodes().length === 2);
        await Deno.rename(`${dir}/nodes`, `${dir}/nodes.away`);
        await until("the fault", () => !a.health().connected);
        assert.equal(a.health().authoritative, false);
        assert.deepEqual(a.nodes().map((n) => n.name), ["a", "b"], "last good list kept");
        await Deno.rename(`${dir}/nodes.away`, `${dir}/nodes`);
        await until("the recovery", () => a.health().connected);
        assert.equal(a.health().authoritative, true);
        assert.deepEqual(a.nodes().map((n) => n.name), ["a", "b"]);
        // Registering again keeps the claimed subnet.
        const again = await a.register({ name: "a", addresses: ["10.0.0.1"] });
        assert.deepEqual(again.podCidrs, ["10.244.0.0/24"]);
        assert.ok(events >= 2, "the agent is told about the fault and the recovery");
      } finally {
        await a.close();
      }
    });
  },
);

Deno.test("file: an oversize entry is refused unparsed and reported", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const a = store(dir, { rescanIntervalMs: 0 });
    try {
      await a.register({ name: "a", addresses: ["10.0.0.1"] });
      const big = `{"name":"big","pad":"${"x".repeat(70_000)}"}`;
      await Deno.writeTextFile(`${dir}/nodes/big.json`, big);
      await a.register({ name: "a", addresses: ["10.0.0.1"] });
      assert.deepEqual(a.nodes().map((n) => n.name), ["a"]);
      assert.deepEqual(a.entryRejects().map((r) => [r.node, r.reason]), [["big", "oversize"]]);
    } finally {
      await a.close();
    }
  });
});

Deno.test("file: start twice is refused; close is idempotent", TEMP_DIR, async () => {
  await withDir(async (dir) => {
    const a = store(dir);
    await a.start(() => {});
    await assert.rejects(a.start(() => {}), /already started/);
    await a.close();
    await a.close();
    await assert.rejects(a.register({ name: "n", addresses: [] }), /it is closed/);
  });
});

Deno.test(
  "file: nodes/ missing while subnets are claimed: never recreated empty; a restart waits",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir, { rescanIntervalMs: 0 });
      await a.register({ name: "a", addresses: ["10.0.0.1"] });
      await a.close();
      await Deno.rename(`${dir}/nodes`, `${dir}/nodes.away`);
      const again = store(dir, { rescanIntervalMs: 0 });
      let events = 0;
      try {
        await assert.rejects(
          again.register({ name: "a", addresses: ["10.0.0.1"] }),
          /missing while subnets are claimed/,
        );
        await again.start(() => events++);
        assert.equal(again.health().connected, false);
        assert.equal(await Deno.stat(`${dir}/nodes`).catch(() => undefined), undefined);
        await Deno.rename(`${dir}/nodes.away`, `${dir}/nodes`);
        await until("the recovery", () => again.health().connected);
        assert.deepEqual(again.nodes().map((n) => n.name), ["a"]);
        const n = await again.register({ name: "a", addresses: ["10.0.0.1"] });
        assert.deepEqual(n.podCidrs, ["10.244.0.0/24"], "the claimed subnet, not a new one");
        assert.ok(events >= 1);
      } finally {
        await again.close();
      }
    });
  },
);

Deno.test(
  "file: an unclaimed entry overlapping a claimed subnet moves nobody",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir, { rescanIntervalMs: 0 });
      try {
        const first = await a.register({ name: "a", addresses: ["10.0.0.1"] });
        await Deno.writeTextFile(
          `${dir}/nodes/evil.json`,
          JSON.stringify({ name: "evil", podCidrs: ["10.244.0.0/20"], addresses: ["10.0.0.9"] }),
        );
        const again = await a.register({ name: "a", addresses: ["10.0.0.1"] });
        assert.deepEqual(again.podCidrs, first.podCidrs);
        const b = await a.register({ name: "b", addresses: ["10.0.0.2"] });
        assert.deepEqual(b.podCidrs, ["10.244.1.0/24"], "allocation follows the claims only");
      } finally {
        await a.close();
      }
    });
  },
);

Deno.test(
  "file: a folder deleted and made anew is watched again (no rescan timer)",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const a = store(dir, { rescanIntervalMs: 0 });
      try {
        await a.register({ name: "a", addresses: ["10.0.0.1"] });
        await a.start(() => {});
        const saved = await Deno.readTextFile(`${dir}/nodes/a.json`);
        await Deno.rename(`${dir}/nodes`, `${dir}/nodes.old`);
        await until("the fault", () => !a.health().connected);
        // A restore: a new folder (new inode) with the entry; the old one stays elsewhere.
        await Deno.mkdir(`${dir}/nodes.new`);
        await Deno.writeTextFile(`${dir}/nodes.new/a.json`, saved);
        await Deno.rename(`${dir}/nodes.new`, `${dir}/nodes`);
        await until("the recovery", () => a.health().connected);
        // Only a watch on the new folder can see this (the rescan timer is off).
        await writeNodeEntry({ name: "b", podCidrs: ["10.244.7.0/24"], addresses: ["10.0.0.2"] }, {
          dir,
        });
        await until("b through the watch", () => a.nodes().some((n) => n.name === "b"));
        await Deno.writeTextFile(`${dir}/nodes.old/ghost.json`, saved.replace('"a"', '"ghost"'));
        assert.deepEqual(a.nodes().map((n) => n.name), ["a", "b"], "the old folder is not read");
      } finally {
        await a.close();
      }
    });
  },
);

Deno.test(
  "file: start watches before it reads, so an entry written meanwhile is not missed",
  TEMP_DIR,
  async () => {
    await withDir(async (dir) => {
      const order: string[] = [];
      const real = new RealFileSystem();
      const fs: FileSystem = Object.assign(Object.create(real), {
        readDir: (p: string) => {
          order.push(`read ${p.slice(dir.length)}`);
          return real.readDir(p);
        },
      });
      const a = store(dir, {
        fs,
        rescanIntervalMs: 0,
        watchDir: (p) => {
          order.push(`watch ${p.slice(dir.length)}`);
          return silentWatch();
        },
      });
      try {
        await a.start(() => {});
        const watchAt = order.indexOf("watch /nodes");
        const readAt = order.indexOf("read /nodes");
        assert.ok(watchAt >= 0 && readAt > watchAt, order.join(", "));
      } finally {
        await a.close();
      }
    });
  },
);
