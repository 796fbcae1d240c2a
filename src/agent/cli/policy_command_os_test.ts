import assert from "node:assert/strict";
import { FileDatastore } from "../../datastore/file/mod.ts";
import { TEMP_DIR } from "../../system/os_testing.ts";
import { parsePolicyArgs, policyExplain } from "./policy_command.ts";

const OBJECTS = `apiVersion: v1
kind: Pod
metadata: { name: a, namespace: x, labels: { app: web } }
spec: { nodeName: n1, containers: [{ name: c, ports: [{ name: http, containerPort: 8080 }] }] }
status: { phase: Running, podIP: 10.244.1.5 }
---
apiVersion: v1
kind: Pod
metadata: { name: b, namespace: x, labels: { app: client } }
spec: { nodeName: n2 }
status: { phase: Running, podIP: 10.244.2.7 }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web, namespace: x }
spec:
  podSelector: { matchLabels: { app: web } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: client } } }], ports: [{ port: http }] }]
`;

Deno.test("policy explain: from the file datastore's policy folder, exit 0 allowed, 3 denied", {
  permissions: { ...TEMP_DIR.permissions, env: ["LOG_TOKENS", "LOG_STREAM"] },
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "hgexplain-" });
  try {
    await Deno.mkdir(`${dir}/policy`);
    await Deno.writeTextFile(`${dir}/policy/objects.yaml`, OBJECTS);
    const run = async (port: string) => {
      const { query, config } = parsePolicyArgs(
        [
          "explain",
          "--from",
          "x/b",
          `--to=x/a`,
          "--port",
          port,
          "--datastore=file",
          `--store-dir=${dir}`,
        ],
        { env: {}, hostname: "n9" },
      );
      assert.equal(config.storeDir, dir);
      const out: string[] = [];
      const ds = new FileDatastore({
        dir,
        clusterCidr: "10.244.0.0/16",
        watchPolicy: true,
        rescanIntervalMs: 0,
        log: () => {},
      });
      const code = await policyExplain(ds, query, (s) => out.push(s));
      return { code, text: out.join("") };
    };
    const ok = await run("8080/TCP");
    assert.equal(ok.code, 0);
    assert.match(
      ok.text,
      /ALLOW: allowed by x\/web ingress rule 0: from pods \{app=client\} on http\/TCP/,
    );
    const no = await run("80");
    assert.equal(no.code, 3);
    assert.match(no.text, /counter drop comment "ingress denied: x\/web/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("policy explain: usage errors", { permissions: "none" }, () => {
  assert.throws(
    () => parsePolicyArgs(["show"], { env: {}, hostname: "n" }),
    /unknown policy subcommand show/,
  );
  assert.throws(
    () => parsePolicyArgs(["explain", "--from=x/a"], { env: {}, hostname: "n" }),
    /needs --from, --to and --port/,
  );
});
