import assert from "node:assert/strict";
import { CAP_SYS_ADMIN, hasEffectiveCapability } from "./capabilities.ts";
import { openLibc } from "./netlink/libc.ts";

Deno.test(
  "capget reports this process's effective set as /proc does",
  { permissions: { ffi: true, run: ["/bin/sh"] } },
  async () => {
    // Read by a child (Deno forbids /proc/self/status without --allow-all): its set is ours.
    const out = await new Deno.Command("/bin/sh", {
      args: ["-c", "grep '^CapEff:' /proc/self/status"],
    }).output();
    const eff = BigInt(`0x${new TextDecoder().decode(out.stdout).split(/\s+/)[1]}`);
    const libc = openLibc();
    try {
      for (const cap of [0, 12, 13, CAP_SYS_ADMIN, 40]) {
        const want = ((eff >> BigInt(cap)) & 1n) === 1n;
        assert.equal(hasEffectiveCapability(libc, cap), want, `cap ${cap}`);
      }
    } finally {
      libc.close();
    }
  },
);
