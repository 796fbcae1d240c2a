/**
 * The kubeconfig loader against real files and a real TLS server: fixture
 * kubeconfigs (YAML with relative paths, an exec plugin, an alias bomb), the
 * size cap, and requests over `fetchTransport` to an https server on
 * 127.0.0.1 whose certificate only the fixture CA verifies.
 */
import assert from "node:assert/strict";
import { TEMP_ROOT, withTempDir } from "../../system/os_testing.ts";
import { loadKubeAccess, loadKubeAccessAsync } from "./config.ts";
import { MAX_KUBECONFIG_BYTES } from "./kubeconfig.ts";
import { fetchTransport } from "./transport.ts";

const DATA = new URL("./testdata/", import.meta.url).pathname;
const read = (f: string) => Deno.readTextFileSync(`${DATA}${f}`);
// env: the `yaml` package reads process.env (its log level).
const READ_DATA = { permissions: { read: [DATA], env: true } };
const TEMP_AND_DATA = { permissions: { read: [DATA, TEMP_ROOT], write: [TEMP_ROOT], env: true } };

Deno.test(
  "access: a YAML kubeconfig, relative paths resolved, TLS files read",
  READ_DATA,
  async () => {
    const a = await loadKubeAccessAsync({ kubeconfigPath: `${DATA}kubeconfig.yaml` });
    assert.equal(a.server, "https://10.0.0.1:6443");
    assert.equal(a.namespace, "team-a");
    assert.deepEqual(await a.headers(), {});
    assert.deepEqual(await a.tls(), {
      caPem: read("ca.crt"),
      certPem: read("client.crt"),
      keyPem: read("client.key"),
      insecure: false,
    });
    assert.match(a.summary, /context dev, client certificate, CA \/.*testdata\/ca\.crt/);
    // The synchronous loader refuses YAML plainly instead of guessing.
    assert.throws(
      () => loadKubeAccess({ kubeconfigPath: `${DATA}kubeconfig.yaml` }),
      /Cannot load kubeconfig: .* is YAML and no YAML parser was loaded/,
    );
  },
);

Deno.test(
  "access: hostile files are refused: too big, alias bomb, missing",
  TEMP_AND_DATA,
  async () => {
    await withTempDir("hg-kc-", async (dir) => {
      const big = `${dir}/big`;
      Deno.writeTextFileSync(big, `{"x":"${"a".repeat(MAX_KUBECONFIG_BYTES)}"}`);
      await assert.rejects(
        loadKubeAccessAsync({ kubeconfigPath: big }),
        /Cannot load kubeconfig: kubeconfig .* is larger than 1048576 bytes/,
      );
      await assert.rejects(
        loadKubeAccessAsync({ kubeconfigPath: `${DATA}kubeconfig-bomb.yaml` }),
        /Cannot load kubeconfig: .* is not valid YAML \(ReferenceError\)/,
      );
      await assert.rejects(
        loadKubeAccessAsync({ kubeconfigPath: `${dir}/none` }),
        /Cannot load kubeconfig: cannot read kubeconfig .*none: NotFound/,
      );
      Deno.writeTextFileSync(`${dir}/bad.json`, "{ nope");
      assert.throws(
        () => loadKubeAccess({ kubeconfigPath: `${dir}/bad.json` }),
        /Cannot load kubeconfig: .*bad\.json is not valid JSON/,
      );
    });
  },
);

/** An https server on 127.0.0.1 with the fixture certificate; answers with the headers it got. */
async function withTlsServer(fn: (url: string, seen: string[]) => Promise<void>): Promise<void> {
  const seen: string[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: read("server.crt"),
    key: read("server.key"),
    onListen: () => {},
  }, (req) => {
    seen.push(req.headers.get("authorization") ?? "");
    return Response.json({ kind: "APIVersions", path: new URL(req.url).pathname });
  });
  try {
    await fn(`https://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    await server.shutdown();
  }
}

function writeKubeconfig(dir: string, cluster: object, user: object): string {
  const path = `${dir}/kubeconfig`;
  Deno.writeTextFileSync(
    path,
    JSON.stringify({
      "current-context": "t",
      contexts: [{ name: "t", context: { cluster: "t", user: "t" } }],
      clusters: [{ name: "t", cluster }],
      users: [{ name: "t", user }],
    }),
  );
  return path;
}

const TLS = { permissions: { read: [DATA, TEMP_ROOT], write: [TEMP_ROOT], net: ["127.0.0.1"] } };

Deno.test("access: https with the cluster CA, a token file that rotates", TLS, async () => {
  await withTlsServer(async (url, seen) => {
    await withTempDir("hg-kc-", async (dir) => {
      Deno.writeTextFileSync(`${dir}/token`, "first\n");
      const path = writeKubeconfig(dir, { server: url, "certificate-authority": `${DATA}ca.crt` }, {
        tokenFile: "token", // relative to the kubeconfig
      });
      const t = fetchTransport(loadKubeAccess({ kubeconfigPath: path }));
      try {
        const got = await t.request<{ path: string }>({ method: "GET", path: "/api" });
        assert.equal(got.path, "/api");
        Deno.writeTextFileSync(`${dir}/token.tmp`, "second");
        Deno.renameSync(`${dir}/token.tmp`, `${dir}/token`);
        await t.request({ method: "GET", path: "/api" });
        assert.deepEqual(seen, ["Bearer first", "Bearer second"]);
      } finally {
        t.close();
      }
    });
  });
});

Deno.test(
  "access: a server the CA does not vouch for is refused; insecure https too",
  TLS,
  async () => {
    await withTlsServer(async (url, seen) => {
      await withTempDir("hg-kc-", async (dir) => {
        const wrong = writeKubeconfig(dir, {
          server: url,
          "certificate-authority-data": btoa(read("other-ca.crt")),
        }, { token: "t" });
        const t = fetchTransport(loadKubeAccess({ kubeconfigPath: wrong }));
        try {
          await assert.rejects(t.request({ method: "GET", path: "/api" }), (e: Error) => {
            assert.match(String(e.cause), /invalid peer certificate: UnknownIssuer/);
            return true;
          });
        } finally {
          t.close();
        }
        const insecure = writeKubeconfig(
          dir,
          { server: url, "insecure-skip-tls-verify": true },
          {},
        );
        const u = fetchTransport(loadKubeAccess({ kubeconfigPath: insecure }));
        await assert.rejects(
          u.request({ method: "GET", path: "/api" }),
          /insecure-skip-tls-verify is not supported for https/,
        );
        u.close();
        assert.deepEqual(seen, [], "no request reached the server");
      });
    });
  },
);

Deno.test("access: a client certificate goes to the TLS client", TLS, async () => {
  await withTlsServer(async (url, seen) => {
    await withTempDir("hg-kc-", async (dir) => {
      const path = writeKubeconfig(dir, {
        server: url,
        "certificate-authority-data": btoa(read("ca.crt")),
      }, {
        "client-certificate-data": btoa(read("client.crt")),
        "client-key-data": btoa(read("client.key")),
      });
      const made: Deno.CreateHttpClientOptions[] = [];
      const t = fetchTransport(loadKubeAccess({ kubeconfigPath: path }), (o) => {
        made.push(o);
        return Deno.createHttpClient(o);
      });
      try {
        await t.request({ method: "GET", path: "/api" });
        await t.request({ method: "GET", path: "/apis" });
      } finally {
        t.close();
      }
      assert.equal(made.length, 1, "one TLS client for all requests");
      assert.deepEqual(made[0], {
        caCerts: [read("ca.crt")],
        cert: read("client.crt"),
        key: read("client.key"),
      });
      assert.deepEqual(seen, ["", ""]);
    });
  });
});

Deno.test(
  "access: an exec plugin is run through client-node",
  { permissions: { read: true, env: true, run: ["/bin/sh"] } },
  async () => {
    const a = await loadKubeAccessAsync({ kubeconfigPath: `${DATA}kubeconfig-exec.yaml` });
    assert.equal(a.server, "http://127.0.0.1:1");
    assert.match(a.summary, /exec plugin \(through client-node\)/);
    assert.deepEqual(await a.headers(), { authorization: "Bearer from-exec" });
  },
);
