/**
 * Test support for src/cni's unit tests and its users': what a call fails
 * with, as the code and message a runtime would see. Not used by the
 * plugin itself.
 * @module
 */
import { CniError } from "../errors.ts";

/** A failure as the runtime sees it; code -1 for anything that is not a CniError. */
export interface Failure {
  code: number;
  msg: string;
}

/** What `fn` throws, or undefined when it returns. */
export function failureOf(fn: () => unknown): Failure | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CniError ? { code: e.code, msg: e.message } : { code: -1, msg: String(e) };
  }
  return undefined;
}

/** The CNI code `fn` fails with, or undefined when it returns. */
export function codeOf(fn: () => unknown): number | undefined {
  return failureOf(fn)?.code;
}
