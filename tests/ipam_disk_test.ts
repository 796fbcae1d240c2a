/**
 * hostgate-local against a real directory (no root, no netns): the exact
 * host-local on-disk format, interoperation with the reference host-local
 * binary when it is installed, the delegated path with that binary, and 20
 * processes allocating at once under the flock.
 * @module
 */
import assert from "node:assert/strict";
import { CniError } from "../src/errors.ts";
import { createIpam, DelegatedIpam, type Ipam, IpamUnavailableError } from "../src/ipam/mod.ts";
import { RealExec } from "../src/system/exec.ts";
import { RealFileSystem } from "../src/system/fs.ts";
import { run } from "./helpers/netns.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const HOST_LOCAL = "/usr/lib/cni/host-local";
const hasHostLocal = await Deno.stat(HOST_LOCAL).then(() => true, () => false);

function local(dataDir: string, extra: Record<string, unknown> = {}): Ipam {
  return createIpam({
    config: {
      cniVersion: "1.0.0",
      name: "net1",
      ipam: { type: "hostgate-local", subnet: "10.50.0.0/24", dataDir, ...extra },
    },
    netName: "net1",
    env: {},
    fs: new RealFileSystem(),
    exec: new RealExec(),
    cniVersion: "1.0.0",
  });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hgip-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

async function hostLocal(command: string, dataDir: string, id: string): Promise<string> {
  const conf = {
    cniVersion: "1.0.0",
    name: "net1",
    ipam: { type: "host-local", subnet: "10.50.0.0/24", dataDir },
  };
  const r = await run([HOST_LOCAL], {
    clearEnv: true,
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_NETNS: "/nonexistent",
      CNI_IFNAME: "eth0",
      CNI_PATH: "/usr/lib/cni",
    },
    stdin: JSON.stringify(conf),
  });
  assert.equal(r.code, 0, `host-local ${command}: ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

Deno.test("exact host-local on-disk format with the real file system", async () => {
  await withTempDir(async (dataDir) => {
    const ipam = local(dataDir);
    const r = await ipam.add({ containerId: "c1", ifname: "eth0" });
    assert.equal(r.ips[0]!.address, "10.50.0.2/24");
    const dir = `${dataDir}/net1`;
    assert.deepEqual(await names(dir), ["10.50.0.2", "last_reserved_ip.0", "lock", "owners/"]);
    assert.deepEqual(
      await Deno.readFile(`${dir}/10.50.0.2`),
      new TextEncoder().encode("c1\r\neth0"),
    );
    assert.equal(await Deno.readTextFile(`${dir}/last_reserved_ip.0`), "10.50.0.2");
    assert.equal((await Deno.stat(`${dir}/lock`)).size, 0);
    await ipam.del({ containerId: "c1", ifname: "eth0" });
    assert.deepEqual(await names(dir), ["last_reserved_ip.0", "lock", "owners/"]);
  });
});

Deno.test({
  name: "the reference host-local and hostgate-local share one directory",
  ignore: !hasHostLocal,
  fn: async () => {
    await withTempDir(async (dataDir) => {
      const ipam = local(dataDir);
      await ipam.add({ containerId: "hg1", ifname: "eth0" });
      // host-local continues round-robin from our cursor and skips our file.
      const out = JSON.parse(await hostLocal("ADD", dataDir, "hl1"));
      assert.equal(out.ips[0].address, "10.50.0.3/24");
      // We skip host-local's file and continue from its cursor.
      const r = await ipam.add({ containerId: "hg2", ifname: "eth0" });
      assert.equal(r.ips[0]!.address, "10.50.0.4/24");
      // host-local's DEL finds our record by its content: same format.
      await hostLocal("DEL", dataDir, "hg2");
      assert.ok(!(await names(`${dataDir}/net1`)).includes("10.50.0.4"));
      // Our GC finds host-local's unindexed record.
      await ipam.gc([{ containerId: "hg1", ifname: "eth0" }]);
      assert.deepEqual(
        (await names(`${dataDir}/net1`)).filter((n) => n.startsWith("10.")),
        ["10.50.0.2"],
      );
    });
  },
});

Deno.test({
  name: "a delegated IPAM plugin (the reference host-local) from CNI_PATH",
  ignore: !hasHostLocal,
  fn: async () => {
    await withTempDir(async (dataDir) => {
      const config = {
        cniVersion: "1.0.0",
        name: "net1",
        ipam: {
          type: "host-local",
          subnet: "10.50.0.0/24",
          dataDir,
          routes: [{ dst: "0.0.0.0/0" }],
        },
      };
      const mk = () =>
        createIpam({
          config,
          netName: "net1",
          env: {
            netns: "/nonexistent",
            args: "IP=10.50.0.77",
            path: `${dataDir}/none:/usr/lib/cni`,
          },
          fs: new RealFileSystem(),
          exec: new RealExec(),
          cniVersion: "1.0.0",
        });
      const ipam = mk();
      assert.ok(ipam instanceof DelegatedIpam);
      const r = await ipam.add({ containerId: "d1", ifname: "eth0" });
      assert.deepEqual(r, {
        ips: [{ family: 4, address: "10.50.0.77/24", gateway: "10.50.0.1" }],
        routes: [{ dst: "0.0.0.0/0" }],
      });
      await ipam.check({ containerId: "d1", ifname: "eth0" }, ["10.50.0.77/24"]);
      await ipam.del({ containerId: "d1", ifname: "eth0" });
      assert.ok(!(await names(`${dataDir}/net1`)).includes("10.50.0.77"));
      // The same address again: host-local refuses a taken requested IP with its own error.
      await mk().add({ containerId: "d2", ifname: "eth0" });
      await assert.rejects(mk().add({ containerId: "d3", ifname: "eth0" }), /10\.50\.0\.77/);
    });
  },
});

Deno.test("20 processes adding at once get 20 distinct addresses under the flock", async () => {
  await withTempDir(async (dataDir) => {
    const script = `${dataDir}/add_once.ts`;
    await Deno.writeTextFile(
      script,
      `import { createIpam } from ${JSON.stringify(`${ROOT}src/ipam/mod.ts`)};
import { RealExec } from ${JSON.stringify(`${ROOT}src/system/exec.ts`)};
import { RealFileSystem } from ${JSON.stringify(`${ROOT}src/system/fs.ts`)};
const [dataDir, id, go, ready] = Deno.args;
const ipam = createIpam({
  config: { name: "net1", ipam: { type: "hostgate-local", subnet: "10.50.0.0/24", dataDir } },
  netName: "net1", env: {}, fs: new RealFileSystem(), exec: new RealExec(), cniVersion: "1.1.0",
});
// Start together: say ready, wait for the go file, so the ADDs really contend for the lock.
await Deno.writeTextFile(ready, "");
while (!(await Deno.stat(go).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 2));
const r = await ipam.add({ containerId: id, ifname: "eth0" });
console.log(r.ips[0].address);
`,
    );
    const go = `${dataDir}/go`;
    const procs = Array.from({ length: 20 }, (_, i) =>
      run([
        Deno.execPath(),
        "run",
        "--quiet",
        `--config=${ROOT}deno.json`,
        "--allow-read",
        "--allow-write",
        "--allow-env",
        script,
        dataDir,
        `ctr-${i}`,
        go,
        `${dataDir}/ready-${i}`,
      ]));
    // Release the barrier once every process waits at it (after 30 s regardless).
    for (let t = 0; t < 3000; t++) {
      const ready = (await names(dataDir)).filter((n) => n.startsWith("ready-")).length;
      if (ready === 20) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await Deno.writeTextFile(go, "");
    const results = await Promise.all(procs);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const ips = results.map((r) => r.stdout.trim());
    assert.equal(new Set(ips).size, 20, ips.join(" "));
    const files = (await names(`${dataDir}/net1`)).filter((n) => n.startsWith("10.50.0."));
    assert.equal(files.length, 20);
    assert.deepEqual(files.sort(), ips.map((a) => a.split("/")[0]).sort());
    for (let i = 0; i < 20; i++) {
      const ip = ips[i]!.split("/")[0];
      assert.equal(await Deno.readTextFile(`${dataDir}/net1/${ip}`), `ctr-${i}\r\neth0`);
    }
  });
});

Deno.test("STATUS on the real file system: fine on a fresh store, code 50 when it is unusable", async () => {
  await withTempDir(async (dir) => {
    await local(`${dir}/store`).status();
    const blocker = `${dir}/blocked`;
    await Deno.writeTextFile(blocker, "a file where the store directory must be");
    await assert.rejects(local(blocker).status(), (e: unknown) => {
      assert.ok(e instanceof IpamUnavailableError, String(e));
      assert.equal(e.code, 50);
      return true;
    });
    await assert.rejects(
      local(blocker).add({ containerId: "c", ifname: "eth0" }),
      (e: unknown) => e instanceof CniError && e.code === 5,
    );
  });
});
