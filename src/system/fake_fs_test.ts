import assert from "node:assert/strict";
import { settle } from "./fake_clock.ts";
import { FakeFileSystem, InjectedFault } from "./fake_fs.ts";

Deno.test("files and directories behave like a disk", async () => {
  const fs = new FakeFileSystem({ files: { "/a/b/c.txt": "hi" } });
  assert.equal(await fs.readText("/a/b/c.txt"), "hi");
  assert.equal(await fs.readText("/a/b/none"), undefined);
  assert.deepEqual(await fs.readBytes("/a/b/c.txt"), new TextEncoder().encode("hi"));
  await assert.rejects(fs.writeAtomic("/nodir/x", "1"), Deno.errors.NotFound);
  await assert.rejects(fs.createExclusive("/nodir/x", "1"), Deno.errors.NotFound);
  await fs.mkdirp("/d/e");
  await fs.writeAtomic("/d/e/f", "1", { mode: 0o600 });
  assert.equal(fs.modeOf("/d/e/f"), 0o600);
  assert.equal(await fs.createExclusive("/d/e/f", "2"), false, "O_EXCL");
  assert.equal(fs.file("/d/e/f"), "1");
  assert.equal(await fs.createExclusive("/d/e/g", "2"), true);
  assert.deepEqual(await fs.readDir("/d"), [{ name: "e", isFile: false, isDirectory: true }]);
  assert.deepEqual((await fs.readDir("/d/e")).map((e) => e.name), ["f", "g"]);
  assert.deepEqual(await fs.readDir("/missing"), []);
  assert.ok(await fs.exists("/d/e"));
  assert.equal(await fs.remove("/d/e/f"), true);
  assert.equal(await fs.remove("/d/e/f"), false);
  await assert.rejects(fs.remove("/d/e"), /not empty/);
  await assert.rejects(fs.mkdirp("/d/e/g/h"), Deno.errors.AlreadyExists);
  assert.deepEqual(fs.paths("/d"), ["/d/e/g"]);
  assert.deepEqual(fs.calls.slice(0, 2), [{ op: "readText", path: "/a/b/c.txt" }, {
    op: "readText",
    path: "/a/b/none",
  }]);
});

Deno.test("faults: by op, by path predicate, only the Nth, removable", async () => {
  const fs = new FakeFileSystem({ dirs: ["/d"] });
  const off = fs.inject({ op: "write", nth: 2 });
  await fs.writeAtomic("/d/1", "x");
  await assert.rejects(fs.createExclusive("/d/2", "x"), InjectedFault);
  assert.equal(fs.file("/d/2"), undefined, "a failed create leaves no file");
  await fs.createExclusive("/d/2", "x");
  off();
  fs.inject({ path: (p) => p.endsWith(".bad"), error: new Deno.errors.PermissionDenied("nope") });
  await assert.rejects(fs.readText("/d/x.bad"), Deno.errors.PermissionDenied);
  await fs.writeAtomic("/d/1", "y");
  fs.inject({ op: ["writeAtomic"], path: /\/1$/ });
  await assert.rejects(fs.writeAtomic("/d/1", "z"), /Cannot writeAtomic \/d\/1: injected fault/);
  assert.equal(fs.file("/d/1"), "y", "a failed atomic write keeps the old content");
  fs.clearFaults();
  await fs.writeAtomic("/d/1", "z");
  assert.equal(fs.file("/d/1"), "z");
});

Deno.test("flock: a second locker waits for the first unlock, in order", async () => {
  const fs = new FakeFileSystem({ dirs: ["/d"] });
  const order: string[] = [];
  const u1 = await fs.lock("/d/lock");
  assert.ok(fs.isLocked("/d/lock"));
  assert.equal(fs.file("/d/lock"), "", "lock creates the file");
  const p2 = fs.lock("/d/lock").then(async (u) => {
    order.push("2");
    await u();
  });
  const p3 = fs.lock("/d/lock").then(async (u) => {
    order.push("3");
    await u();
  });
  await settle();
  assert.equal(order.length, 0, "waiting while held");
  order.push("1");
  await u1();
  await u1(); // double unlock is harmless
  await Promise.all([p2, p3]);
  assert.deepEqual(order, ["1", "2", "3"]);
  assert.ok(!fs.isLocked("/d/lock"));
  await assert.rejects(fs.lock("/nodir/lock"), Deno.errors.NotFound);
});
