import assert from "node:assert/strict";
import { CniCode } from "../errors.ts";
import { MAX_QUOTED } from "./decode.ts";
import { parseArgPairs, parseCniArgs } from "./args.ts";
import { codeOf, failureOf } from "./testing.ts";

Deno.test("CNI_ARGS: pairs, pod identity and IP= addresses", () => {
  const a = parseCniArgs(
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_UID=u;IP=10.0.0.9, FD00::9",
  );
  assert.deepEqual([...a.pairs.keys()], [
    "IgnoreUnknown",
    "K8S_POD_NAMESPACE",
    "K8S_POD_NAME",
    "K8S_POD_UID",
    "IP",
  ]);
  assert.equal(a.podNamespace, "ns1");
  assert.equal(a.podName, "web-0");
  assert.deepEqual(a.ips, ["10.0.0.9", "fd00::9"], "trimmed and canonical");
});

Deno.test("CNI_ARGS: empty, absent and separator-only input is no pairs", () => {
  for (const raw of [undefined, "", ";", ";;;", " ", "; ;"]) {
    const a = parseCniArgs(raw);
    assert.equal(a.pairs.size, 0, JSON.stringify(raw));
    assert.deepEqual(a.ips, []);
    assert.equal(a.podName, undefined);
  }
  assert.deepEqual(parseCniArgs("IP=").ips, [], "an empty IP= asks for nothing");
  assert.deepEqual(parseCniArgs("IP=,,").ips, []);
  assert.equal(parseCniArgs("K8S_POD_NAME=").podName, undefined);
});

Deno.test("CNI_ARGS: a pair without '=' or with an empty key is code 4", () => {
  for (const raw of ["NOEQUALS", "=value", "A=1;oops", "A=1;=2", "IgnoreUnknown=1;garbage"]) {
    const f = failureOf(() => parseCniArgs(raw));
    assert.equal(f?.code, CniCode.InvalidEnvironment, raw);
    assert.match(f!.msg, /^Cannot parse CNI_ARGS: .* is not KEY=VALUE$/, raw);
  }
});

Deno.test("CNI_ARGS: a value may hold '='; a repeated key keeps its last value", () => {
  assert.deepEqual(Object.fromEntries(parseCniArgs("A=1;;B=x=y").pairs), { A: "1", B: "x=y" });
  const a = parseCniArgs("IP=10.0.0.1;K8S_POD_NAME=a;IP=10.0.0.2;K8S_POD_NAME=b");
  assert.deepEqual(a.ips, ["10.0.0.2"]);
  assert.equal(a.podName, "b");
  assert.equal(a.pairs.size, 2);
});

Deno.test("CNI_ARGS: IP= must be bare addresses (code 4)", () => {
  for (const bad of ["IP=10.0.0.300", "IP=10.0.0.1/24", "IP=10.0.0.1,nope", "IP=fd00::/64"]) {
    assert.equal(codeOf(() => parseCniArgs(bad)), CniCode.InvalidEnvironment, bad);
  }
});

Deno.test("CNI_ARGS: keys like __proto__ are plain keys, not object magic", () => {
  const a = parseCniArgs("__proto__=x;constructor=y;toString=z");
  assert.equal(a.pairs.get("__proto__"), "x");
  assert.equal(a.pairs.get("constructor"), "y");
  assert.equal(a.pairs.size, 3);
  assert.equal(parseArgPairs("hasOwnProperty=1").get("hasOwnProperty"), "1");
});

Deno.test("CNI_ARGS: huge input parses whole and errors quote only a short prefix", () => {
  const many = Array.from({ length: 50_000 }, (_, i) => `K${i}=${"v".repeat(16)}`).join(";");
  const a = parseCniArgs(`${many};IP=10.0.0.7`);
  assert.equal(a.pairs.size, 50_001);
  assert.deepEqual(a.ips, ["10.0.0.7"]);
  const junk = "x".repeat(1 << 20);
  const f = failureOf(() => parseCniArgs(`A=1;${junk}`));
  assert.equal(f?.code, CniCode.InvalidEnvironment);
  assert.ok(f!.msg.length < MAX_QUOTED + 100, `message of ${f!.msg.length} characters`);
  assert.match(f!.msg, /\(1048576 characters\)/);
  const bigIp = failureOf(() => parseCniArgs(`IP=${"1".repeat(100_000)}`));
  assert.equal(bigIp?.code, CniCode.InvalidEnvironment);
  assert.ok(bigIp!.msg.length < MAX_QUOTED + 100);
});
