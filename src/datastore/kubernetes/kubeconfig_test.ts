import assert from "node:assert/strict";
import { describeSpec, KubeconfigError, parseKubeconfig } from "./kubeconfig.ts";

const b64 = (s: string) => btoa(s);

/** A one-context kubeconfig with the given cluster and user bodies. */
function doc(cluster: Record<string, unknown>, user?: Record<string, unknown>) {
  return {
    "current-context": "c",
    contexts: [{ name: "c", context: { cluster: "k", user: user ? "u" : undefined } }],
    clusters: [{ name: "k", cluster }],
    users: user ? [{ name: "u", user }] : [],
  };
}

Deno.test("kubeconfig: the current context's cluster and user, inline data decoded", () => {
  const spec = parseKubeconfig(
    {
      "current-context": "b",
      contexts: [
        { name: "a", context: { cluster: "ka", user: "ua" } },
        { name: "b", context: { cluster: "kb", user: "ub", namespace: "ns-b" } },
      ],
      clusters: [
        { name: "ka", cluster: { server: "https://a.example" } },
        {
          name: "kb",
          cluster: { server: "https://[fd00::1]:6443/", "certificate-authority-data": b64("CA") },
        },
      ],
      users: [
        { name: "ua", user: { token: "ta" } },
        {
          name: "ub",
          user: { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
        },
      ],
    },
    "/etc/kube",
  );
  assert.deepEqual(spec, {
    context: "b",
    server: "https://[fd00::1]:6443",
    namespace: "ns-b",
    insecure: false,
    ca: { pem: "CA" },
    clientCert: { pem: "CERT" },
    clientKey: { pem: "KEY" },
  });
});

Deno.test("kubeconfig: file paths are relative to the kubeconfig, tokenFile or token-file", () => {
  const spec = parseKubeconfig(
    doc({ server: "https://k", "certificate-authority": "pki/ca.crt" }, {
      "client-certificate": "/abs/c.crt",
      "client-key": "c.key",
      tokenFile: "tok",
    }),
    "/etc/kube",
  );
  assert.deepEqual(spec.ca, { file: "/etc/kube/pki/ca.crt" });
  assert.deepEqual(spec.clientCert, { file: "/abs/c.crt" });
  assert.deepEqual(spec.clientKey, { file: "/etc/kube/c.key" });
  assert.equal(spec.tokenFile, "/etc/kube/tok");
  const dashed = parseKubeconfig(doc({ server: "https://k" }, { "token-file": "/t" }), "/x");
  assert.equal(dashed.tokenFile, "/t");
  // Inline data wins over a file, as in client-go.
  const both = parseKubeconfig(
    doc({
      server: "https://k",
      "certificate-authority": "f",
      "certificate-authority-data": b64("D"),
    }),
    "/x",
  );
  assert.deepEqual(both.ca, { pem: "D" });
});

Deno.test("kubeconfig: token, basic auth, insecure flag and plugins", () => {
  const t = parseKubeconfig(doc({ server: "http://k:8080" }, { token: " tok \n" }));
  assert.equal(t.token, "tok");
  assert.equal(t.server, "http://k:8080");
  const basic = parseKubeconfig(doc({ server: "https://k" }, { username: "u", password: "p:w" }));
  assert.deepEqual(basic.basic, { username: "u", password: "p:w" });
  const insecure = parseKubeconfig(doc({ server: "https://k", "insecure-skip-tls-verify": true }));
  assert.equal(insecure.insecure, true);
  const exec = parseKubeconfig(doc({ server: "https://k" }, { exec: { command: "aws" } }));
  assert.equal(exec.plugin, "exec");
  const ap = parseKubeconfig(doc({ server: "https://k" }, { "auth-provider": { name: "oidc" } }));
  assert.equal(ap.plugin, "auth-provider");
  const anon = parseKubeconfig(doc({ server: "https://k" }));
  assert.deepEqual(anon, { context: "c", server: "https://k", insecure: false });
});

Deno.test("kubeconfig: hostile or broken documents are refused with the state, no secret", () => {
  const secret = "s3cr3t-token-value";
  const cases: [unknown, RegExp][] = [
    [null, /the document is not a mapping/],
    [[], /the document is not a mapping/],
    [{}, /current-context is not set/],
    [{ "current-context": 7 }, /current-context is not a string/],
    [{ "current-context": "x", contexts: [] }, /no context named "x"/],
    [{ "current-context": "x", contexts: "nope" }, /contexts is not a list/],
    [
      {
        "current-context": "x",
        contexts: [{ name: "x", context: {} }, { name: "x", context: {} }],
      },
      /context "x" is listed twice/,
    ],
    [{ "current-context": "x", contexts: [{ name: "x", context: {} }] }, /names no cluster/],
    [{ ...doc({}), clusters: [] }, /no cluster named "k"/],
    [doc({}), /cluster "k" has no server/],
    [doc({ server: "not a url" }), /server is not a URL/],
    [doc({ server: "ftp://k" }), /server is not http\(s\)/],
    [doc({ server: `https://user:${secret}@k` }), /server carries credentials/],
    [doc({ server: "https://k/?x=1" }), /query or fragment/],
    [doc({ server: "https://k", "certificate-authority-data": "***" }), /is not base64/],
    [doc({ server: "https://k" }, { token: `${secret}\r\nX-Evil: 1` }), /control characters/],
    [doc({ server: "https://k" }, { token: ["a"] }), /token is not a string/],
    [doc({ server: "https://k" }, { "client-certificate-data": b64("C") }), /without its key/],
    [doc({ server: "https://k" }, { "client-key": "/k" }), /without its key, or a key alone/],
    [doc({ server: "https://k" }, { username: "a:b", password: secret }), /username is malformed/],
    [
      { ...doc({ server: "https://k" }), clusters: [{ name: "k", cluster: "str" }] },
      /cluster "k" is not a mapping/,
    ],
  ];
  for (const [input, want] of cases) {
    assert.throws(() => parseKubeconfig(input, "/x"), (e: Error) => {
      assert.ok(e instanceof KubeconfigError, String(e));
      assert.match(e.message, /^Cannot load kubeconfig: /);
      assert.match(e.message, want);
      assert.ok(!e.message.includes(secret), e.message);
      return true;
    }, JSON.stringify(input));
  }
});

Deno.test("kubeconfig: the log line names server and kind of credentials, never their value", () => {
  const spec = parseKubeconfig(doc({ server: "https://k" }, { token: "hidden-value" }));
  const line = describeSpec(spec, "kubeconfig /etc/kube/config");
  assert.equal(
    line,
    "kubeconfig /etc/kube/config: https://k (context c, token (inline), system CAs)",
  );
  const f = parseKubeconfig(
    doc({ server: "https://k", "certificate-authority": "/ca" }, { tokenFile: "/t" }),
  );
  assert.match(describeSpec(f, "x"), /token file \/t, CA \/ca/);
});
