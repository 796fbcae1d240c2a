/**
 * Both real file systems against a private temp directory (no root): the
 * same observable behaviour through the FileSystem interface, and locks that
 * exclude each other across the two implementations.
 */
import assert from "node:assert/strict";
import { type FileSystem, RealFileSystem, SyncFileSystem } from "./fs.ts";
import { TEMP_DIR, withTempDir as withDir } from "./os_testing.ts";

const IMPLS: [string, () => FileSystem][] = [
  ["RealFileSystem", () => new RealFileSystem()],
  ["SyncFileSystem", () => new SyncFileSystem()],
];

const withTempDir = (fn: (dir: string) => Promise<void>) => withDir("hgfs-", fn);

for (const [name, make] of IMPLS) {
  Deno.test(`${name}: read, exclusive create, atomic write, remove, list`, TEMP_DIR, async () => {
    await withTempDir(async (dir) => {
      const fs = make();
      const a = `${dir}/sub/a`;
      assert.equal(await fs.readText(a), undefined);
      assert.equal(await fs.readBytes(a), undefined);
      assert.deepEqual(await fs.readDir(`${dir}/sub`), []);
      assert.equal(await fs.exists(`${dir}/sub`), false);
      await assert.rejects(fs.createExclusive(a, "x"), Deno.errors.NotFound);
      await fs.mkdirp(`${dir}/sub`, 0o755);
      assert.equal(await fs.exists(`${dir}/sub`), true);
      assert.equal(await fs.createExclusive(a, "first\r\neth0"), true);
      assert.equal(await fs.createExclusive(a, "second"), false);
      assert.equal(await fs.readText(a), "first\r\neth0");
      await fs.writeAtomic(a, "replaced", { durable: false });
      assert.equal(await fs.readText(a), "replaced");
      await fs.writeAtomic(`${dir}/sub/m`, new Uint8Array([1, 2, 3]), { mode: 0o600 });
      assert.deepEqual(await fs.readBytes(`${dir}/sub/m`), new Uint8Array([1, 2, 3]));
      assert.equal((await Deno.stat(`${dir}/sub/m`)).mode! & 0o777, 0o600);
      const listed = (await fs.readDir(`${dir}/sub`)).sort((x, y) => x.name.localeCompare(y.name));
      // No temp file is left behind by writeAtomic.
      assert.deepEqual(listed, [
        { name: "a", isFile: true, isDirectory: false },
        { name: "m", isFile: true, isDirectory: false },
      ]);
      assert.equal(await fs.remove(a), true);
      assert.equal(await fs.remove(a), false);
      await assert.rejects(fs.writeAtomic(`${dir}/none/x`, "y"), Deno.errors.NotFound);
    });
  });
}

for (const [name, make] of IMPLS) {
  Deno.test(`${name}: only "not found" is an answer; other errors surface`, TEMP_DIR, async () => {
    await withTempDir(async (dir) => {
      const fs = make();
      const file = `${dir}/file`;
      await fs.writeAtomic(file, "x");
      await fs.mkdirp(`${dir}/full/inner`);
      // A directory read as a file, a file listed as a directory, a path through a file.
      await assert.rejects(fs.readText(dir), Deno.errors.IsADirectory);
      await assert.rejects(fs.readBytes(dir), Deno.errors.IsADirectory);
      await assert.rejects(fs.readDir(file), Deno.errors.NotADirectory);
      await assert.rejects(fs.exists(`${file}/x`), Deno.errors.NotADirectory);
      await assert.rejects(fs.readText(`${file}/x`), Deno.errors.NotADirectory);
      await assert.rejects(fs.readBytes(`${file}/x`), Deno.errors.NotADirectory);
      await assert.rejects(fs.createExclusive(`${file}/x`, "y"), Deno.errors.NotADirectory);
      await assert.rejects(fs.remove(`${file}/x`), Deno.errors.NotADirectory);
      // A directory that is not empty is not removed, and says so.
      await assert.rejects(fs.remove(`${dir}/full`));
      assert.equal(await fs.exists(`${dir}/full/inner`), true);
      // A lock needs a file it can open: not a directory, not a path through a file.
      await assert.rejects(fs.lock(`${file}/lock`), Deno.errors.NotADirectory);
      await assert.rejects(fs.lock(`${dir}/none/lock`), Deno.errors.NotFound);
      assert.equal(await fs.readText(file), "x", "nothing changed by the failures");
    });
  });
}

Deno.test("SyncFileSystem and RealFileSystem locks exclude each other", TEMP_DIR, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/lock`;
    const unlock = await new SyncFileSystem().lock(path);
    const state = { granted: false };
    const waiting = new RealFileSystem().lock(path).then((u) => {
      state.granted = true;
      return u;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(state.granted, false, "the second lock must wait");
    await unlock();
    await (await waiting)();
    // Released: the sync implementation gets it again without blocking forever.
    await (await new SyncFileSystem().lock(path))();
  });
});

for (const [name, make] of IMPLS) {
  Deno.test(`${name}: lstat reports kind and a file's mtime`, TEMP_DIR, async () => {
    await withTempDir(async (dir) => {
      const fs = make();
      assert.equal(await fs.lstat!(`${dir}/none`), undefined);
      await fs.writeAtomic(`${dir}/f`, "x", { durable: false });
      const when = new Date(Date.UTC(2020, 0, 1));
      await Deno.utime(`${dir}/f`, when, when);
      assert.deepEqual(await fs.lstat!(`${dir}/f`), { kind: "file", mtime: when.getTime() });
      assert.equal((await fs.lstat!(dir))?.kind, "dir");
    });
  });
}

for (const [name, make] of IMPLS) {
  Deno.test(`${name}: overwrite writes in place; prime changes nothing`, TEMP_DIR, async () => {
    await withTempDir(async (dir) => {
      const fs = make();
      const c = `${dir}/cursor`;
      await fs.overwrite!(c, "10.0.0.10");
      const ino = (await Deno.lstat(c)).ino;
      await fs.overwrite!(c, "10.0.0.9");
      assert.equal(await fs.readText(c), "10.0.0.9", "a shorter text leaves no tail");
      assert.equal((await Deno.lstat(c)).ino, ino, "the same file: no temp file, no rename");
      await assert.rejects(fs.overwrite!(`${dir}/no/cursor`, "x"), Deno.errors.NotFound);
      if (!fs.prime) return;
      const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      const mtime = (await Deno.lstat(dir)).mtime?.getTime();
      await fs.prime(dir);
      await fs.prime(`${dir}/absent`); // nothing to warm: no error, nothing made
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before);
      assert.equal((await Deno.lstat(dir)).mtime?.getTime(), mtime);
      assert.equal(await fs.readText(c), "10.0.0.9");
    });
  });
}
