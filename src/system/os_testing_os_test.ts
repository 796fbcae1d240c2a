/**
 * Holds the `*_os_test.ts` convention: every test there says what it needs in
 * its options (the `unit:os` task grants the union; a test without options
 * would silently get all of it).
 * @module
 */
import assert from "node:assert/strict";

const SRC = new URL("../", import.meta.url);

async function* osTestFiles(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* osTestFiles(new URL(`${e.name}/`, dir));
    else if (e.name.endsWith("_os_test.ts")) yield new URL(e.name, dir);
  }
}

/** A name followed directly by the test function: no options, so no permissions declared. */
const WITHOUT_OPTIONS =
  /Deno\.test\(\s*(?:"(?:[^"\\]|\\.)*"|`[^`]*`)\s*,\s*(?:async\s*)?(?:\(|function)/g;

Deno.test(
  "every test in an *_os_test.ts file declares its permissions",
  { permissions: { read: [SRC] } },
  async () => {
    const offenders: string[] = [];
    let files = 0;
    for await (const url of osTestFiles(SRC)) {
      files++;
      const text = await Deno.readTextFile(url);
      for (const m of text.matchAll(WITHOUT_OPTIONS)) {
        offenders.push(`${url.pathname.slice(SRC.pathname.length)}: ${m[0].slice(0, 60)}`);
      }
    }
    assert.ok(files >= 5, `found only ${files} os test files`);
    assert.deepEqual(offenders, []);
  },
);
