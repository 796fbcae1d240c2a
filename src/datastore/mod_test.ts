import assert from "node:assert/strict";
import { createDatastore, DATASTORE_KINDS } from "./mod.ts";

Deno.test("createDatastore: unknown kind is refused", async () => {
  assert.deepEqual([...DATASTORE_KINDS].sort(), ["etcd", "file", "kubernetes"]);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    createDatastore({ kind: "consul" } as any),
    /^Error: Cannot create datastore: unknown kind/,
  );
});
