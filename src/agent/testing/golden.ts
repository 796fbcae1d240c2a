/**
 * Golden-file assertions for the payload renderers: compares with
 * testdata/<name>. The unit tests may read testdata/ and nothing else
 * (`deno task unit:pure` grants just that); `deno task golden` also grants
 * writing it, and then the files are rewritten instead (review the diff
 * before committing). Asking the permission, not an environment variable,
 * keeps the tests free of env access.
 * @module
 */
import assert from "node:assert/strict";

/** The golden files. */
const TESTDATA = new URL("./testdata/", import.meta.url);

/** Asserts `actual` equals the golden file `name` in testdata/. */
export async function assertGolden(name: string, actual: string): Promise<void> {
  const url = new URL(name, TESTDATA);
  if (Deno.permissions.querySync({ name: "write", path: TESTDATA }).state === "granted") {
    await Deno.writeTextFile(url, actual);
    return;
  }
  const want = await Deno.readTextFile(url);
  assert.equal(actual, want, `golden file testdata/${name} differs (deno task golden rewrites it)`);
}
