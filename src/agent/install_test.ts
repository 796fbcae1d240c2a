import assert from "node:assert/strict";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { ensureConflist, installBinary, installPlugins } from "./install.ts";
import { countIpsInUse } from "./status.ts";

Deno.test("install: the binary is written once with mode 0755, then only when its bytes change", async () => {
  const fs = new FakeFileSystem({ files: { "/src/hostgate": "v1", "/usr/lib/cni/portmap": "pm" } });
  assert.equal(
    await installPlugins(fs, {
      pluginSrc: "/src/hostgate",
      extraPlugins: ["/usr/lib/cni/portmap"],
      cniBinDir: "/opt/cni/bin",
    }),
    2,
  );
  assert.equal(fs.file("/opt/cni/bin/hostgate"), "v1");
  assert.equal(fs.file("/opt/cni/bin/portmap"), "pm");
  assert.equal(fs.modeOf("/opt/cni/bin/hostgate"), 0o755);
  const writes = fs.count("writeAtomic");
  assert.equal(
    await installBinary(fs, { src: "/src/hostgate", destDir: "/opt/cni/bin", name: "hostgate" }),
    false,
  );
  assert.equal(fs.count("writeAtomic"), writes, "same bytes: no write");
  fs.setFile("/src/hostgate", "v2");
  assert.equal(
    await installBinary(fs, { src: "/src/hostgate", destDir: "/opt/cni/bin", name: "hostgate" }),
    true,
  );
  assert.equal(fs.file("/opt/cni/bin/hostgate"), "v2");
});

Deno.test("install: a missing source is a clear error and writes nothing", async () => {
  const fs = new FakeFileSystem();
  await assert.rejects(
    installBinary(fs, { src: "/nope/hostgate", destDir: "/opt/cni/bin" }),
    /Cannot install the plugin: \/nope\/hostgate does not exist/,
  );
  assert.deepEqual(fs.paths("/opt"), []);
});

Deno.test("install: a failed write leaves the old binary whole (temp + rename)", async () => {
  const fs = new FakeFileSystem({
    files: { "/src/hostgate": "new", "/opt/cni/bin/hostgate": "old" },
  });
  fs.inject({ op: "writeAtomic", path: "/opt/cni/bin/hostgate" });
  await assert.rejects(installBinary(fs, { src: "/src/hostgate", destDir: "/opt/cni/bin" }));
  assert.equal(fs.file("/opt/cni/bin/hostgate"), "old");
});

Deno.test("conflist: written only when the content changes", async () => {
  const fs = new FakeFileSystem();
  const path = "/etc/cni/net.d/10-hostgate.conflist";
  assert.equal(await ensureConflist(fs, { path, content: "A" }), true);
  assert.equal(await ensureConflist(fs, { path, content: "A" }), false);
  assert.equal(fs.count("writeAtomic"), 1);
  assert.equal(await ensureConflist(fs, { path, content: "B" }), true);
  assert.equal(fs.file(path), "B");
});

Deno.test("status: IPs in use count reservation files only", async () => {
  const fs = new FakeFileSystem({
    files: {
      "/run/hostgate/ipam/hostgate/10.244.1.2": "c1\r\neth0",
      "/run/hostgate/ipam/hostgate/10.244.1.3": "c2\r\neth0",
      "/run/hostgate/ipam/hostgate/lock": "",
      "/run/hostgate/ipam/hostgate/last_reserved_ip.0": "10.244.1.3",
    },
  });
  assert.equal(await countIpsInUse(fs, "/run/hostgate/ipam/hostgate"), 2);
  assert.equal(await countIpsInUse(fs, "/run/hostgate/ipam/none"), 0);
});
