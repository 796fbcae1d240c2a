import assert from "node:assert/strict";
import { FakeFileSystem } from "../../system/fake_fs.ts";
import { parseKubeconfig } from "../../ipam/ippool/kubeconfig.ts";
import { FakeClock, until } from "../../system/fake_clock.ts";
import { installCommand, parseConfig } from "../cli/mod.ts";
import {
  ensureConflist,
  ensurePluginKubeconfig,
  installBinary,
  installPlugins,
  keepPluginKubeconfig,
} from "./install.ts";
import { countIpsInUse, memoryLogger } from "../observe/mod.ts";
import { fakeNode } from "../testing/mod.ts";

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

// --- the plugin kubeconfig for hostgate-ippool (--ippool-kubeconfig) ---

const SA = "/var/run/secrets/hostgate.io/plugin";
const SERVICE_ENV = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

Deno.test("plugin kubeconfig: token and CA of the plugin's own account, mode 0600, rewritten on rotation", async () => {
  const fs = new FakeFileSystem({
    files: { [`${SA}/token`]: "tok-1\n", [`${SA}/ca.crt`]: "-----BEGIN CERTIFICATE-----\nX\n" },
  });
  const path = "/etc/cni/net.d/hostgate-kubeconfig";
  const server = "https://10.96.0.1:443";
  assert.equal(await ensurePluginKubeconfig(fs, { path, server }), true);
  assert.equal(fs.modeOf(path), 0o600);
  assert.deepEqual(parseKubeconfig(fs.file(path)!), {
    server,
    token: "tok-1",
    caPem: "-----BEGIN CERTIFICATE-----\nX\n",
  });
  assert.equal(await ensurePluginKubeconfig(fs, { path, server }), false, "unchanged: no write");
  fs.setFile(`${SA}/token`, "tok-2");
  assert.equal(await ensurePluginKubeconfig(fs, { path, server }), true);
  assert.equal(parseKubeconfig(fs.file(path)!).token, "tok-2");
  await assert.rejects(
    ensurePluginKubeconfig(new FakeFileSystem(), { path, server }),
    /Cannot write the plugin kubeconfig: no service account token/,
  );
  // The agent's own token is never handed to the plugin.
  const agentOnly = new FakeFileSystem({
    files: { "/var/run/secrets/kubernetes.io/serviceaccount/token": "agent-token" },
  });
  await assert.rejects(
    ensurePluginKubeconfig(agentOnly, { path, server }),
    /no service account token in \/var\/run\/secrets\/hostgate\.io\/plugin/,
  );
  assert.equal(agentOnly.file(path), undefined);
});

Deno.test("plugin kubeconfig: run refreshes it when kubelet rotates the token", async () => {
  const fs = new FakeFileSystem({ files: { "/sa/token": "old" } });
  const ac = new AbortController();
  const clock = new FakeClock();
  const loop = keepPluginKubeconfig({
    path: "/k/config",
    server: "https://api:443",
    serviceAccountDir: "/sa",
    fs,
    clock,
    log: memoryLogger(),
    intervalMs: 5_000,
    signal: ac.signal,
  });
  const token = () => {
    const text = fs.file("/k/config");
    return text === undefined ? undefined : parseKubeconfig(text).token;
  };
  await until("the first kubeconfig", () => token() === "old");
  fs.setFile("/sa/token", "new");
  await clock.advance(4_999);
  assert.equal(token(), "old", "the token file is read again only after intervalMs");
  await clock.advance(1);
  assert.equal(token(), "new");
  ac.abort();
  await loop;
  assert.equal(clock.pending, 0, "a stopped refresh leaves no timer");
});

Deno.test("--ippool-kubeconfig: off by default, needs an absolute path and the service env", () => {
  const parse = (flags: string[], env: Record<string, string> = SERVICE_ENV) =>
    parseConfig(["install", "--node-name=a", ...flags], { env, hostname: "a" });
  assert.equal(parse([]).ippoolKubeconfig, undefined);
  const cfg = parse(["--ippool-kubeconfig=/etc/cni/net.d/hostgate-kubeconfig"]);
  assert.equal(cfg.ippoolKubeconfig, "/etc/cni/net.d/hostgate-kubeconfig");
  assert.equal(cfg.kubernetesApi, "https://10.96.0.1:443");
  assert.throws(() => parse(["--ippool-kubeconfig=rel"]), /must be an absolute path/);
  assert.throws(() => parse(["--ippool-kubeconfig=/k"], {}), /needs KUBERNETES_SERVICE_HOST/);
});

Deno.test("install --ippool-kubeconfig writes the plugin kubeconfig (also with --binary-only)", async () => {
  const n = fakeNode();
  n.fs.setFile(`${SA}/token`, "tok");
  const config = {
    ...parseConfig(
      ["install", "--node-name=a", "--binary-only", "--ippool-kubeconfig=/etc/cni/net.d/hg-kc"],
      { env: SERVICE_ENV, hostname: "a" },
    ),
    pluginSrc: "/opt/hostgate/hostgate",
  };
  const code = await installCommand({
    config,
    netlink: n.nl,
    fs: n.fs,
    clock: new FakeClock({ autoAdvance: true }),
    log: n.log,
    openDatastore: () => Promise.reject(new Error("not used")),
    firewall: () => Promise.reject(new Error("not used")),
    print: () => {},
  });
  assert.equal(code, 0);
  assert.equal(n.fs.modeOf("/etc/cni/net.d/hg-kc"), 0o600);
  assert.equal(parseKubeconfig(n.fs.file("/etc/cni/net.d/hg-kc")!).server, "https://10.96.0.1:443");
});
