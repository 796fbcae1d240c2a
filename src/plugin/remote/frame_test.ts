import assert from "node:assert/strict";
import {
  decodeAnswer,
  decodeRequest,
  encodeFrame,
  encodeRequest,
  forwardedEnv,
  frameLength,
  MAX_REQUEST_BYTES,
} from "./frame.ts";
import { agentSocketOf, agentSocketProblem } from "./socket_path.ts";

const body = (frame: Uint8Array) => frame.subarray(4);

Deno.test("a request round-trips and keeps only the CNI variables", () => {
  const frame = encodeRequest({
    env: { CNI_COMMAND: "ADD", CNI_NETNS: "/var/run/netns/p", HOSTGATE_LOG_LEVEL: "debug" },
    stdin: '{"cniVersion":"1.0.0"}',
  });
  assert.equal(frameLength(frame, MAX_REQUEST_BYTES), frame.length - 4);
  const req = decodeRequest(body(frame));
  assert.deepEqual(req.env, {
    CNI_COMMAND: "ADD",
    CNI_NETNS: "/var/run/netns/p",
    HOSTGATE_LOG_LEVEL: "debug",
  });
  assert.equal(req.stdin, '{"cniVersion":"1.0.0"}');
  assert.deepEqual(forwardedEnv({ PATH: "/bin", HOME: "/root", CNI_PATH: "/opt/cni/bin" }), {
    CNI_PATH: "/opt/cni/bin",
  });
});

Deno.test("a hostile request is refused by name, never half-taken", () => {
  const bad: [unknown, RegExp][] = [
    [[1, 2], /not a JSON object/],
    [{ v: 2, env: {}, stdin: "" }, /wire version 2/],
    [{ v: 1, env: {}, stdin: 7 }, /stdin is not a string/],
    [{ v: 1, env: [], stdin: "" }, /env is not an object/],
    [{ v: 1, env: { CNI_COMMAND: 1 }, stdin: "" }, /env CNI_COMMAND is not a string/],
  ];
  for (const [v, re] of bad) assert.throws(() => decodeRequest(body(encodeFrame(v))), re);
  assert.throws(() => decodeRequest(new TextEncoder().encode("{")), /Cannot decode the request/);
  assert.throws(() => decodeRequest(new Uint8Array([0xff, 0xfe])), /Cannot decode the request/);
  // A forged environment gets nothing but CNI_* through.
  const req = decodeRequest(body(encodeFrame({ v: 1, env: { LD_PRELOAD: "/x.so" }, stdin: "" })));
  assert.deepEqual(req.env, {});
});

Deno.test("frame caps are checked before any body is read", () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_REQUEST_BYTES + 1);
  assert.throws(() => frameLength(header, MAX_REQUEST_BYTES), /over the 1048576-byte cap/);
  assert.throws(() => frameLength(new Uint8Array(2), 10), /header is short/);
});

Deno.test("answers are validated", () => {
  const ok = decodeAnswer(body(encodeFrame({ stdout: "{}\n", exitCode: 0 })));
  assert.deepEqual(ok, { stdout: "{}\n", exitCode: 0, stderr: "" });
  assert.throws(() => decodeAnswer(body(encodeFrame({ stdout: "", exitCode: 2 }))), /exitCode/);
  assert.throws(() => decodeAnswer(body(encodeFrame({ exitCode: 0 }))), /stdout/);
  assert.throws(
    () => decodeAnswer(body(encodeFrame({ stdout: "", exitCode: 0, stderr: 1 }))),
    /stderr/,
  );
});

Deno.test("the agent socket is read from stdin only when valid", () => {
  assert.equal(
    agentSocketOf('{"agentSocket":"/run/hostgate/plugin.sock"}'),
    "/run/hostgate/plugin.sock",
  );
  for (
    const s of [
      "not json",
      "[]",
      "{}",
      '{"agentSocket":""}',
      '{"agentSocket":"relative.sock"}',
      '{"agentSocket":7}',
      `{"agentSocket":"/${"a".repeat(120)}"}`,
      '{"agentSocket":"/run/a\\u0000b"}',
    ]
  ) assert.equal(agentSocketOf(s), undefined, s);
  assert.equal(agentSocketProblem("/x"), undefined);
  assert.match(agentSocketProblem("x") ?? "", /absolute/);
  assert.match(agentSocketProblem(`/${"a".repeat(107)}`) ?? "", /at most 107 bytes/);
});
