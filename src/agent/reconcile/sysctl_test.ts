import assert from "node:assert/strict";
import { FakeNetlink, NetlinkError } from "../../system/netlink/mod.ts";
import { sysctlAccess } from "./sysctl.ts";

Deno.test("sysctl: reads and writes through the handle, errors are not papered over", async () => {
  const nl = new FakeNetlink();
  nl.state().sysctls.set("net/ipv4/ip_forward", "0");
  const h = nl.open();
  const s = sysctlAccess(h);
  assert.equal(await s.get("net/ipv4/ip_forward"), "0");
  await s.set("net/ipv4/ip_forward", "1");
  assert.equal(h.getSysctl("net/ipv4/ip_forward"), "1");
  nl.failNext("getSysctl", new NetlinkError(2, "Cannot read sysctl: no such sysctl"));
  await assert.rejects(s.get("net/ipv4/ip_forward"), /no such sysctl/);
});
