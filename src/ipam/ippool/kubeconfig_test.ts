import assert from "node:assert/strict";
import { CniError } from "../../errors.ts";
import { FakeFileSystem } from "../../system/fake_fs.ts";
import {
  kubernetesServiceUrl,
  loadKubeconfig,
  parseKubeconfig,
  renderKubeconfig,
} from "./kubeconfig.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

Deno.test("what the agent renders, the plugin parses back", () => {
  const text = renderKubeconfig({ server: "https://10.96.0.1:443", token: "tok", caPem: CA });
  assert.deepEqual(parseKubeconfig(text), {
    server: "https://10.96.0.1:443",
    token: "tok",
    caPem: CA,
  });
  assert.ok(text.endsWith("\n"));
});

Deno.test("kubeconfigs with file references and the test server's form", async () => {
  const fs = new FakeFileSystem();
  fs.setFile("/sa/token", "file-token\n");
  fs.setFile("/sa/ca.crt", CA);
  fs.setFile(
    "/k",
    JSON.stringify({
      clusters: [{
        name: "c",
        cluster: { server: "https://api:6443/", "certificate-authority": "/sa/ca.crt" },
      }],
      users: [{ name: "u", user: { tokenFile: "/sa/token" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  assert.deepEqual(await loadKubeconfig(fs, "/k"), {
    server: "https://api:6443",
    token: "file-token",
    caPem: CA,
  });
  fs.setFile(
    "/t",
    JSON.stringify({
      clusters: [{
        name: "t",
        cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true },
      }],
      users: [{ name: "t", user: { token: "abc" } }],
      contexts: [{ name: "t", context: { cluster: "t", user: "t", namespace: "kube-system" } }],
      "current-context": "t",
    }),
  );
  assert.deepEqual(await loadKubeconfig(fs, "/t"), { server: "http://127.0.0.1:1", token: "abc" });
});

Deno.test("a missing kubeconfig is code 11 (the agent writes it), a broken one code 7", async () => {
  const fs = new FakeFileSystem();
  await assert.rejects(
    loadKubeconfig(fs, "/nope"),
    (e: unknown) => e instanceof CniError && e.code === 11 && /does not exist/.test(e.message),
  );
  const bad: [string, RegExp][] = [
    ["apiVersion: v1", /not JSON/],
    ["[]", /not an object/],
    [JSON.stringify({ clusters: [], "current-context": "x", contexts: [] }), /no context x/],
    [JSON.stringify({ clusters: [{ name: "a", cluster: { server: "ftp://x" } }] }), /http/],
    [
      JSON.stringify({
        clusters: [{
          name: "a",
          cluster: { server: "https://x", "certificate-authority-data": "!!" },
        }],
      }),
      /base64/,
    ],
  ];
  for (const [text, re] of bad) {
    fs.setFile("/bad", text);
    await assert.rejects(
      loadKubeconfig(fs, "/bad"),
      (e: unknown) => e instanceof CniError && e.code === 7 && re.test(e.message),
      text,
    );
  }
});

Deno.test("the in-cluster API URL from the service environment", () => {
  assert.equal(kubernetesServiceUrl({}), undefined);
  assert.equal(
    kubernetesServiceUrl({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }),
    "https://10.96.0.1:443",
  );
  assert.equal(
    kubernetesServiceUrl({ KUBERNETES_SERVICE_HOST: "fd00::1" }),
    "https://[fd00::1]:443",
  );
});
