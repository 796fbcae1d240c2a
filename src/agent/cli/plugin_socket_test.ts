import assert from "node:assert/strict";
import { canEnterPods } from "./plugin_socket.ts";

Deno.test("the plugin socket needs CAP_SYS_ADMIN in the effective set", () => {
  const status = (eff: string) =>
    `Name:\tdeno\nCapInh:\t0000000000000000\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\n`;
  assert.equal(canEnterPods(status("000001ffffffffff")), true); // root, all capabilities
  assert.equal(canEnterPods(status("0000000000201000")), true); // NET_ADMIN + SYS_ADMIN
  assert.equal(canEnterPods(status("0000000000003000")), false); // NET_ADMIN + NET_RAW (the default deploy)
  assert.equal(canEnterPods("garbage"), false);
  assert.equal(canEnterPods(undefined), false);
});
