import assert from "node:assert/strict";
import { type CommandDeps, installCommand, statusCommand, uninstallCommand } from "./commands.ts";
import { buildStatus, renderStatus } from "../observe/mod.ts";
import { commandDeps, fakeNode, peer, routesOf } from "../testing/mod.ts";

/** commandDeps with a 1 s timeout on every subcommand that takes one. */
function deps(
  n: ReturnType<typeof fakeNode>,
  cmd: string,
  flags: string[] = [],
): CommandDeps & { out: string[] } {
  return commandDeps(n, [cmd, ...(cmd === "uninstall" ? [] : ["--timeout=1s"]), ...flags]);
}

Deno.test("install command: binary and conflist, registering this node", async () => {
  const n = fakeNode();
  assert.equal(await installCommand(deps(n, "install")), 0);
  assert.equal(n.fs.file("/opt/cni/bin/hostgate"), "#!plugin v1\n");
  const conf = JSON.parse(n.fs.file("/etc/cni/net.d/10-hostgate.conflist")!);
  assert.deepEqual(conf.plugins[0].ipam.ranges, [[{ subnet: "10.244.1.0/24" }]]);
  assert.equal(conf.plugins[0].mtu, 1450);
  assert.deepEqual(n.ds.nodes().find((x) => x.name === "a")!.addresses, ["192.168.1.10"]);
  assert.equal(n.ds.closed, true);
});

Deno.test("install command: --binary-only never contacts the datastore", async () => {
  const n = fakeNode();
  assert.equal(await installCommand(deps(n, "install", ["--binary-only"])), 0);
  assert.deepEqual(n.ds.calls, []);
  assert.equal(n.fs.file("/etc/cni/net.d/10-hostgate.conflist"), undefined);
});

Deno.test("install command: gives up after --timeout when the datastore stays down", async () => {
  const n = fakeNode();
  n.ds.disconnect("refused");
  await assert.rejects(
    installCommand(deps(n, "install", ["--timeout=300ms"])),
    /Cannot register with the datastore/,
  );
  assert.equal(n.fs.file("/etc/cni/net.d/10-hostgate.conflist"), undefined);
});

Deno.test("status and uninstall after a reconcile: present, then all gone", async () => {
  const n = fakeNode({ peers: [peer("b", 2)] });
  await n.reconciler().resync();
  n.fs.setFile("/run/hostgate/ipam/hostgate/10.244.1.2", "c\r\neth0");
  const d = deps(n, "status");
  assert.equal(await statusCommand(d), 0);
  const text = d.out.join("");
  assert.match(text, /subnets:\s+10\.244\.1\.0\/24/);
  assert.match(text, /rules:\s+present/);
  assert.match(text, /IPs in use: 1/);
  assert.match(text, /b\s+ipv4\s+192\.168\.1\.12\s+10\.244\.2\.0\/24\s+host-gw\s+present/);
  n.handle.deleteRoute({ family: 4, dst: "10.244.2.0/24", gateway: "192.168.1.12", protocol: 151 });
  const d2 = deps(n, "status", ["--json"]);
  assert.equal(await statusCommand(d2), 1);
  assert.equal(JSON.parse(d2.out.join("")).peers[0].route, "missing");

  assert.equal(
    await uninstallCommand(deps(n, "uninstall", ["--firewall-backend=iptables-nft"])),
    0,
  );
  assert.deepEqual(routesOf(n.handle), []);
  assert.doesNotMatch(await n.v4.save(), /HOSTGATE/);
  assert.equal(n.fs.file("/etc/cni/net.d/10-hostgate.conflist"), undefined);
});

Deno.test("status report: a wrong gateway and a stale route are shown", () => {
  const r = buildStatus({
    node: "a",
    datastore: { kind: "file", connected: false, lastError: "refused" },
    desired: {
      selfPodCidrs: ["10.244.1.0/24"],
      bridgeGateways: [],
      vxlan: [],
      routes: [{
        peer: "b",
        family: 4,
        dst: "10.244.2.0/24",
        gateway: "192.168.1.12",
        linkIndex: 2,
      }],
      peers: [
        {
          name: "b",
          family: 4,
          mode: "host-gw",
          podCidr: "10.244.2.0/24",
          nodeIp: "192.168.1.12",
          route: {
            peer: "b",
            family: 4,
            dst: "10.244.2.0/24",
            gateway: "192.168.1.12",
            linkIndex: 2,
          },
        },
        {
          name: "far",
          family: 4,
          mode: "skip",
          reason: "not-on-link",
          podCidr: "10.244.9.0/24",
          nodeIp: "172.16.0.9",
        },
      ],
    },
    nodeIps: ["192.168.1.10"],
    ownRoutes: [
      { family: 4, dst: "10.244.2.0/24", gateway: "192.168.1.99", linkIndex: 2, protocol: 151 },
      { family: 4, dst: "10.244.5.0/24", gateway: "192.168.1.15", linkIndex: 2, protocol: 151 },
    ],
    rules: { backend: "iptables-nft", inPlace: true },
    conflist: { path: "/etc/cni/net.d/10-hostgate.conflist", state: "current" },
    ipam: { dir: "/run/hostgate/ipam/hostgate", inUse: 0 },
  });
  assert.deepEqual(r.peers.map((p) => [p.name, p.route, p.detail]), [[
    "b",
    "wrong",
    "via 192.168.1.99",
  ], ["far", "skipped", "not-on-link"]]);
  assert.deepEqual(r.staleRoutes, ["10.244.5.0/24 via 192.168.1.15"]);
  const text = renderStatus(r);
  assert.match(text, /NOT connected \(refused\)/);
  assert.match(text, /stale route: 10\.244\.5\.0\/24 via 192\.168\.1\.15/);
});

Deno.test("status: values the trust gate refused are listed, never routed", async () => {
  const n = fakeNode({ peers: [peer("b", 2), peer("w", 0, { podCidrs: ["128.0.0.0/1"] })] });
  await n.reconciler().resync();
  const d = commandDeps(n, ["status"]);
  await statusCommand(d);
  const text = d.out.join("");
  assert.match(text, /rejected: node w podCidrs 128\.0\.0\.0\/1: outside-cluster-cidr/);
  assert.doesNotMatch(text, /128\.0\.0\.0\/1 +host-gw/);
});
