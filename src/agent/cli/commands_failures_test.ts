/**
 * The one-shot subcommands when the node or the kernel is not as expected:
 * install without a node IP or a usable pod subnet, uninstall that cannot
 * remove everything (it goes on, says what failed, exits 1), and status
 * while the datastore stays unreachable.
 * @module
 */
import assert from "node:assert/strict";
import { NetlinkError } from "../../system/netlink/mod.ts";
import type { FirewallDriver } from "../firewall/mod.ts";
import { installCommand, statusCommand, uninstallCommand } from "./commands.ts";
import { commandDeps, fakeNode, peer } from "../testing/mod.ts";

const CONFLIST = "/etc/cni/net.d/10-hostgate.conflist";

Deno.test("install: refused without a node IP; nothing written", async () => {
  const bare = fakeNode();
  bare.handle.deleteAddr({ linkIndex: bare.uplink, cidr: "192.168.1.10/24" });
  await assert.rejects(
    installCommand(commandDeps(bare, ["install", "--timeout=1s"])),
    /^Error: Cannot register: no node IP found \(set --node-ip or --iface\)$/,
  );
  assert.equal(bare.fs.file(CONFLIST), undefined);
  assert.equal(bare.ds.closed, true, "the datastore is closed on failure too");
});

Deno.test("uninstall: goes on past failures, logs each, exits 1", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  await n.reconciler().resync();
  n.nl.failNext("listRoutes", new NetlinkError(105, "Cannot dump routes: no buffer space"));
  n.nl.failNext("listLinks", new NetlinkError(105, "Cannot dump links: no buffer space"));
  const d = commandDeps(n, ["uninstall", "--firewall-backend=iptables-legacy"]);
  const broken: FirewallDriver = {
    name: "iptables",
    sync: () => Promise.resolve(false),
    inSync: () => Promise.resolve(false),
    remove: () => Promise.reject(new Error("Cannot run iptables-legacy-save: not found")),
  };
  d.firewall = () => Promise.resolve(broken);
  const before = n.log.lines.length;
  assert.equal(await uninstallCommand(d), 1);
  const errors = n.log.lines.slice(before).filter((l) => l.level !== "info").map((l) => l.msg);
  assert.deepEqual(errors, [
    "Cannot remove routes",
    "Cannot remove the vxlan device",
    "Cannot remove rules",
  ]);
  assert.equal(n.fs.file(CONFLIST), undefined, "the conflist still went");
});

Deno.test("uninstall with auto: a backend that is not there is no failure", async () => {
  const n = fakeNode();
  await n.reconciler().resync();
  const d = commandDeps(n, ["uninstall"]);
  const tried: string[] = [];
  d.firewall = (backend) => {
    tried.push(backend);
    return Promise.reject(new Error(`Cannot find ${backend}`));
  };
  assert.equal(await uninstallCommand(d), 0);
  assert.deepEqual(tried, ["iptables-legacy", "iptables-nft", "nftables"]);
});

Deno.test("status: a datastore that stays unreachable is waited for until --timeout, then shown", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  await n.reconciler().resync();
  // The watch starts (as an informer does) but never connects.
  n.ds.disconnect("connection refused");
  n.ds.start = () => Promise.resolve();
  const d = commandDeps(n, ["status", "--timeout=2s", "--json"]);
  const t0 = d.clock.monotonic();
  assert.equal(typeof (await statusCommand(d)), "number");
  assert.ok(d.clock.monotonic() - t0 >= 2_000, "polled until the deadline");
  const report = JSON.parse(d.out.join(""));
  assert.equal(report.datastore.connected, false);
});
