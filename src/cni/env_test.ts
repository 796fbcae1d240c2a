import assert from "node:assert/strict";
import { encodeEnv, interfaceNameProblem, parseEnv } from "./env.ts";
import { codeOf } from "./testing.ts";

const BASE = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "abc123",
  CNI_NETNS: "/run/netns/p1",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
};

Deno.test("env: a full ADD environment parses", () => {
  const env = parseEnv({
    ...BASE,
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;IP=10.0.0.9,fd00::9",
  });
  assert.equal(env.command, "ADD");
  assert.equal(env.containerId, "abc123");
  assert.deepEqual(env.path, ["/opt/cni/bin", "/usr/lib/cni"]);
  assert.deepEqual(env.args.ips, ["10.0.0.9", "fd00::9"]);
  assert.equal(env.args.podNamespace, "ns1");
  assert.equal(env.args.podName, "web-0");
  assert.equal(env.args.pairs.get("IgnoreUnknown"), "1");
});

Deno.test("env: missing variables per command are error 4", () => {
  assert.equal(codeOf(() => parseEnv({})), 4);
  assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_COMMAND: "BOGUS" })), 4);
  for (const k of ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]) {
    assert.equal(codeOf(() => parseEnv({ ...BASE, [k]: undefined })), 4, k);
    assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_COMMAND: "CHECK", [k]: "" })), 4, k);
  }
  // DEL may come without a netns; GC and STATUS need only CNI_PATH; VERSION nothing.
  assert.equal(parseEnv({ ...BASE, CNI_COMMAND: "DEL", CNI_NETNS: undefined }).netns, "");
  assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_COMMAND: "DEL", CNI_IFNAME: "" })), 4);
  assert.equal(parseEnv({ CNI_COMMAND: "GC", CNI_PATH: "/x" }).containerId, "");
  assert.equal(codeOf(() => parseEnv({ CNI_COMMAND: "STATUS" })), 4);
  assert.equal(parseEnv({ CNI_COMMAND: "VERSION" }).command, "VERSION");
});

Deno.test("env: container id, ifname and netns are validated", () => {
  for (const id of ["-abc", "_x", "a b", "a/b", "é", ".x"]) {
    assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_CONTAINERID: id })), 4, id);
  }
  assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_CONTAINERID: "a.b-c_D9" })), undefined);
  for (const name of [".", "..", "a/b", "a:b", "a b", "a\tb", "x".repeat(16)]) {
    assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_IFNAME: name })), 4, name);
  }
  assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_IFNAME: "x".repeat(15) })), undefined);
  assert.equal(codeOf(() => parseEnv({ ...BASE, CNI_NETNS: "relative/path" })), 4);
  assert.equal(interfaceNameProblem("eth0"), undefined);
});

Deno.test("env: encodeEnv writes every variable and parseEnv reads it back", () => {
  const vars = encodeEnv({
    command: "DEL",
    containerId: "c1",
    ifname: "eth0",
    args: "K8S_POD_NAME=web;IP=10.0.0.9",
    path: ["/opt/cni/bin", "", "/usr/lib/cni"],
  });
  assert.deepEqual(vars, {
    CNI_COMMAND: "DEL",
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "K8S_POD_NAME=web;IP=10.0.0.9",
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
  });
  const back = parseEnv(vars);
  assert.deepEqual([back.command, back.containerId, back.netns, back.ifname], [
    "DEL",
    "c1",
    "",
    "eth0",
  ]);
  assert.deepEqual(back.args.ips, ["10.0.0.9"]);
  assert.deepEqual(back.path, ["/opt/cni/bin", "/usr/lib/cni"]);
});
