import assert from "node:assert/strict";
import { FakeExec } from "../system/fake_exec.ts";
import { FakeNetlink, NetlinkError } from "../system/netlink/mod.ts";
import { sysctlAccess } from "./sysctl.ts";

Deno.test("sysctl: the handle first; `sysctl` argv when Deno refuses /proc/sys", async () => {
  const nl = new FakeNetlink();
  nl.state().sysctls.set("net/ipv4/ip_forward", "0");
  const h = nl.open();
  const exec = new FakeExec([
    { match: ["sysctl", "-n"], reply: { code: 0, stdout: "0\n" } },
    { match: ["sysctl", "-q", "-w"], reply: { code: 0 } },
  ]);
  const s = sysctlAccess(h, exec);
  assert.equal(await s.get("net/ipv4/ip_forward"), "0");
  await s.set("net/ipv4/ip_forward", "1");
  assert.equal(h.getSysctl("net/ipv4/ip_forward"), "1");
  assert.equal(exec.calls.length, 0);

  const refused = () =>
    new NetlinkError(13, "Cannot read sysctl: refused", {
      cause: new Deno.errors.NotCapable('Requires all access to "/proc/sys/x"'),
    });
  nl.failNext("getSysctl", refused());
  nl.failNext("setSysctl", refused());
  assert.equal(await s.get("net/ipv4/ip_forward"), "0");
  await s.set("net/ipv4/ip_forward", "1");
  assert.deepEqual(exec.calls.map((c) => c.argv), [
    ["sysctl", "-n", "net/ipv4/ip_forward"],
    ["sysctl", "-q", "-w", "net/ipv4/ip_forward=1"],
  ]);
  // Any other error is not papered over.
  nl.failNext("getSysctl", new NetlinkError(2, "Cannot read sysctl: no such sysctl"));
  await assert.rejects(s.get("net/ipv4/ip_forward"), /no such sysctl/);
});
