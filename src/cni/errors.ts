/**
 * The spec's error object (`{cniVersion, code, msg, details}`) both ways:
 * written by the plugin's boundary, read back from a delegated plugin's
 * stdout so its own code passes through unchanged. The codes themselves
 * live in src/errors.ts (every layer throws them).
 * @module
 */
import { CniError } from "../errors.ts";
import { isObject, type Json } from "./decode.ts";

/** The wire object of `err` in `cniVersion`; `details` only when there are some. */
export function encodeError(err: CniError, cniVersion: string): Json {
  const out: Json = { cniVersion, code: err.code, msg: err.message };
  if (err.details) out["details"] = err.details;
  return out;
}

/**
 * The CniError a plugin reported on `stdout`, or undefined when stdout
 * holds no error object with a numeric code. A missing `msg` becomes
 * `fallbackMsg`.
 */
export function decodeError(stdout: string, fallbackMsg: string): CniError | undefined {
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isObject(v) || typeof v["code"] !== "number") return undefined;
  return new CniError(
    v["code"],
    typeof v["msg"] === "string" ? v["msg"] : fallbackMsg,
    typeof v["details"] === "string" ? v["details"] : "",
  );
}
