import assert from "node:assert/strict";
import { isOwnNetns } from "./netns_identity.ts";

Deno.test("netns identity: /proc/self/ns/net is our own, another file or a missing path is not", async () => {
  assert.equal(isOwnNetns("/proc/self/ns/net"), true);
  assert.equal(isOwnNetns(`/proc/${Deno.pid}/ns/net`), true);
  const f = await Deno.makeTempFile();
  try {
    assert.equal(isOwnNetns(f), false);
  } finally {
    await Deno.remove(f);
  }
  assert.equal(isOwnNetns("/nonexistent/netns"), false);
});
