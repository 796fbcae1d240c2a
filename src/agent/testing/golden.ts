/**
 * Golden-file assertions for the payload renderers: compares with
 * testdata/<name>; `UPDATE_GOLDEN=1 deno test -A src/agent` rewrites them
 * (review the diff before committing).
 * @module
 */
import assert from "node:assert/strict";

/** Asserts `actual` equals the golden file `name` in testdata/. */
export async function assertGolden(name: string, actual: string): Promise<void> {
  const url = new URL(`./testdata/${name}`, import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.writeTextFile(url, actual);
    return;
  }
  const want = await Deno.readTextFile(url);
  assert.equal(actual, want, `golden file testdata/${name} differs`);
}
