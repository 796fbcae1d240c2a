/**
 * The wire format between the plugin (a thin client when the node's agent
 * serves plugin calls) and the agent: one request and one answer per
 * connection, each a 4-byte big-endian length and that many bytes of JSON.
 * Pure: encoding, decoding and validation, no I/O. Both ends treat the
 * other's bytes as untrusted: sizes are capped before anything is parsed,
 * and only the fields below, of the right types, are accepted.
 * @module
 */

/** Largest request: a CNI config with a big prevResult is tens of KB. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** Largest answer: the result JSON and the call's log lines. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** Wire version; an agent answers only requests of its own version. */
export const WIRE_VERSION = 1;

/** One plugin call handed to the agent. */
export interface RemoteRequest {
  /** The call's CNI_* variables (and HOSTGATE_LOG_LEVEL), nothing else of the shim's environment. */
  env: Record<string, string>;
  /** The config the runtime wrote to the plugin's stdin, unparsed. */
  stdin: string;
}

/** What the agent answers: the plugin's stdout, exit code and log lines. */
export interface RemoteAnswer {
  stdout: string;
  exitCode: number;
  /** Log lines of the call, for the shim's stderr (the runtime's log). */
  stderr: string;
  /**
   * Set when the agent did not run the call and the shim must run it itself
   * (e.g. the pod's netns is not visible in the agent's mount namespace):
   * the reason, for the log. stdout and exitCode are then meaningless.
   */
  declined?: string;
}

/** Environment variables the shim forwards: the CNI call and its log level. */
export function forwardedEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("CNI_") || k === "HOSTGATE_LOG_LEVEL") out[k] = v;
  }
  return out;
}

/** Length-prefixed bytes of `value`'s JSON. */
export function encodeFrame(value: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(value));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** The body length a frame header announces; throws past `max`. */
export function frameLength(header: Uint8Array, max: number): number {
  if (header.length < 4) throw new Error("Cannot read the frame: its header is short");
  const n = new DataView(header.buffer, header.byteOffset, 4).getUint32(0);
  if (n > max) throw new Error(`Cannot read the frame: ${n} bytes is over the ${max}-byte cap`);
  return n;
}

function parseObject(body: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (e) {
    throw new Error(`Cannot decode the ${what}: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`Cannot decode the ${what}: not a JSON object`);
  }
  return v as Record<string, unknown>;
}

/** Validates a request body; throws `Cannot decode the request: ...`. */
export function decodeRequest(body: Uint8Array): RemoteRequest {
  const v = parseObject(body, "request");
  if (v["v"] !== WIRE_VERSION) {
    throw new Error(
      `Cannot decode the request: wire version ${String(v["v"])} is not ${WIRE_VERSION}`,
    );
  }
  const env = v["env"], stdin = v["stdin"];
  if (typeof stdin !== "string") {
    throw new Error("Cannot decode the request: stdin is not a string");
  }
  if (typeof env !== "object" || env === null || Array.isArray(env)) {
    throw new Error("Cannot decode the request: env is not an object");
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) {
    if (typeof val !== "string") {
      throw new Error(`Cannot decode the request: env ${k} is not a string`);
    }
    out[k] = val;
  }
  return { env: forwardedEnv(out), stdin };
}

/** The request frame of a call. */
export function encodeRequest(req: RemoteRequest): Uint8Array {
  return encodeFrame({ v: WIRE_VERSION, env: req.env, stdin: req.stdin });
}

/** Validates an answer body; throws `Cannot decode the answer: ...`. */
export function decodeAnswer(body: Uint8Array): RemoteAnswer {
  const v = parseObject(body, "answer");
  const stdout = v["stdout"], exitCode = v["exitCode"], stderr = v["stderr"] ?? "";
  if (typeof stdout !== "string") {
    throw new Error("Cannot decode the answer: stdout is not a string");
  }
  if (exitCode !== 0 && exitCode !== 1) {
    throw new Error("Cannot decode the answer: exitCode is not 0 or 1");
  }
  if (typeof stderr !== "string") {
    throw new Error("Cannot decode the answer: stderr is not a string");
  }
  const declined = v["declined"];
  if (declined !== undefined) {
    if (typeof declined !== "string") {
      throw new Error("Cannot decode the answer: declined is not a string");
    }
    return { stdout, exitCode, stderr, declined };
  }
  return { stdout, exitCode, stderr };
}
