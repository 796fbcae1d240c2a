import assert from "node:assert/strict";
import { isOwnNetns } from "./netns_identity.ts";
import { TEMP_ROOT } from "./os_testing.ts";

/** stat(2) over FFI, and temp files to compare. */
const STAT = { permissions: { ffi: true, read: [TEMP_ROOT], write: [TEMP_ROOT] } };

// Files stand in for the
// nsfs entries (the comparison is the same: device and inode); the plugin_holes
// integration test runs it on real namespaces.
Deno.test(
  "netns identity: same inode is our own; another file or a missing path is not",
  STAT,
  async () => {
    const a = await Deno.makeTempFile({ dir: TEMP_ROOT });
    const b = await Deno.makeTempFile({ dir: TEMP_ROOT });
    try {
      assert.equal(isOwnNetns(a, a), true);
      assert.equal(isOwnNetns(a, b), false);
      assert.equal(isOwnNetns("/nonexistent/netns", a), false);
      assert.equal(isOwnNetns(a, "/nonexistent/own"), false);
      assert.equal(isOwnNetns("/proc/self/ns/net"), true);
      assert.equal(isOwnNetns(`/proc/${Deno.pid}/ns/net`), true);
      assert.equal(isOwnNetns("/proc/self/ns/mnt"), false);
    } finally {
      await Deno.remove(a);
      await Deno.remove(b);
    }
  },
);
