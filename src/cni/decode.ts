/**
 * The small JSON checks every decoder of this folder shares: "is it an
 * object", "is it a list of strings", and how a failure is reported. A
 * decoder takes a `Fail` so the same code reads a config (CNI code 7 naming
 * the key) and a delegated plugin's output (code 6) without knowing which.
 * @module
 */
import { type CniError, invalidConfig } from "../errors.ts";

/** A decoded JSON object. */
export type Json = Record<string, unknown>;

/** Builds the error for the value at `key` that is wrong because `why`. */
export type Fail = (key: string, why: string) => CniError;

/** The default failure: CNI code 7 naming the key ("Cannot parse config: <key> <why>"). */
export const configFail: Fail = invalidConfig;

/** True for a JSON object (not null, not an array). */
export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when `v` is absent: undefined or null (JSON `null` means "not set"). */
export function isAbsent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

/** An optional list of strings; anything else fails naming `key`. */
export function stringList(v: unknown, key: string, fail: Fail = configFail): string[] | undefined {
  if (isAbsent(v)) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw fail(key, "must be an array of strings");
  }
  return [...v] as string[];
}

/** An optional object; anything else fails naming `key`. */
export function optObject(v: unknown, key: string, fail: Fail = configFail): Json | undefined {
  if (isAbsent(v)) return undefined;
  if (!isObject(v)) throw fail(key, "must be an object");
  return v;
}

/** Longest input text quoted back in an error message: hostile input must not flood stdout. */
export const MAX_QUOTED = 64;

/** `text` JSON-quoted for a message, cut to MAX_QUOTED characters. */
export function quote(text: string): string {
  return text.length <= MAX_QUOTED
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, MAX_QUOTED))}... (${text.length} characters)`;
}
