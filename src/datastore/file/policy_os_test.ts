import assert from "node:assert/strict";
import { TEMP_DIR } from "../../system/os_testing.ts";
import { FilePolicySource, objectsOfText, policyDir } from "./policy.ts";

/** npm:yaml reads these at parse time. */
const YAML_ENV = ["LOG_TOKENS", "LOG_STREAM"];

const POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny, namespace: x }
spec: { podSelector: {}, policyTypes: [Ingress] }
---
apiVersion: v1
kind: Namespace
metadata: { name: x, labels: { ns: x } }
`;

const PODS = JSON.stringify({
  apiVersion: "v1",
  kind: "List",
  items: [{
    kind: "Pod",
    metadata: { name: "a", namespace: "x", labels: { pod: "a" } },
    spec: { nodeName: "n1" },
    status: { podIP: "10.244.1.5" },
  }, { kind: "ConfigMap", metadata: { name: "ignored" } }],
});

Deno.test("objectsOfText: several documents and Lists; other kinds ignored", {
  permissions: { env: YAML_ENV },
}, async () => {
  assert.deepEqual((await objectsOfText(POLICY)).map((o) => o.kind), [
    "NetworkPolicy",
    "Namespace",
  ]);
  assert.deepEqual((await objectsOfText(PODS)).map((o) => o.kind), ["Pod"]);
  await assert.rejects(() => objectsOfText("a: [1, 2"));
  assert.deepEqual(
    (await objectsOfText(
      JSON.stringify({ kind: "List", items: [{ kind: "Pod" }, { kind: "Secret" }] }),
    ))
      .map((o) => o.kind),
    ["Pod"],
  );
  await assert.rejects(() => objectsOfText('{"kind": "Pod"'));
});

Deno.test("FilePolicySource: reads the folder, follows changes, keeps the last good file", {
  permissions: { ...TEMP_DIR.permissions, env: YAML_ENV },
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "hgpolicy-" });
  const logs: string[] = [];
  const src = new FilePolicySource({ dir, rescanIntervalMs: 0, log: (m) => logs.push(m) });
  let changes = 0;
  try {
    assert.equal(src.input(), undefined, "unknown before the first read");
    await Deno.mkdir(policyDir(dir), { recursive: true });
    await Deno.writeTextFile(`${policyDir(dir)}/policy.yaml`, POLICY);
    await Deno.writeTextFile(`${policyDir(dir)}/pods.json`, PODS);
    await src.start(() => changes++);
    const a = src.input()!;
    assert.deepEqual(a.policies.map((p) => p.name), ["deny"]);
    assert.deepEqual(a.pods.map((p) => [p.name, p.ips]), [["a", ["10.244.1.5"]]]);
    assert.equal(a.namespaces[0]?.labels.ns, "x");
    assert.equal(changes, 1);
    // A broken edit keeps the last good content of that file.
    await Deno.writeTextFile(`${policyDir(dir)}/policy.yaml`, "kind: [");
    await src.rescan();
    assert.deepEqual(src.input()!.policies.map((p) => p.name), ["deny"]);
    assert.match(logs.join("\n"), /keeping the last good policy\.yaml/);
    // Removal is seen through the watch.
    await Deno.remove(`${policyDir(dir)}/policy.yaml`);
    const until = Date.now() + 5000;
    while (src.input()!.policies.length > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(src.input()!.policies, []);
    assert.ok(changes >= 2);
  } finally {
    await src.close();
    await Deno.remove(dir, { recursive: true });
  }
});
