/**
 * The pod end of ADD on the fake kernel: configurePod is idempotent
 * (addresses and routes already there are fine), installs each route once,
 * lets an explicit default from IPAM yield to the gateway's, and maps kernel
 * failures to CNI errors naming the step.
 * @module
 */
import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { FakeNetlink, NetlinkError } from "../system/netlink/mod.ts";
import { configurePod, gatewaysOf, type PodRequest } from "./ensure.ts";

const POD = "/run/netns/pod1";

function pod() {
  const nl = new FakeNetlink();
  nl.addNetns(POD);
  const host = nl.open();
  host.addVeth({ name: "hg0", peerName: "eth0", peerNetns: POD });
  host.close();
  return { nl, h: nl.open(POD) };
}

const DUAL: PodRequest = {
  ifname: "eth0",
  ips: [
    { family: 4, address: "10.22.0.5/24" },
    { family: 6, address: "fd00:22::5/64" },
  ],
  gateways: gatewaysOf([
    { family: 4, address: "10.22.0.5/24", gateway: "10.22.0.1" },
    { family: 6, address: "fd00:22::5/64", gateway: "fd00:22::1" },
  ], false),
  ipamRoutes: [
    { dst: "0.0.0.0/0" }, // the gateway's default already covers it
    { dst: "10.96.0.0/12" },
    { dst: "10.96.0.0/12" }, // twice in the config: one route
    { dst: "192.168.0.0/16", gw: "10.22.0.254" },
  ],
  isDefaultGateway: true,
};

Deno.test("configurePod: addresses, DAD off, routes once each; a second run changes nothing", () => {
  const { nl, h } = pod();
  const r = configurePod(h, DUAL);
  assert.deepEqual(r.routes, [
    { dst: "0.0.0.0/0", gw: "10.22.0.1" },
    { dst: "::/0", gw: "fd00:22::1" },
    { dst: "10.96.0.0/12" },
    { dst: "10.96.0.0/12" },
    { dst: "192.168.0.0/16", gw: "10.22.0.254" },
  ]);
  assert.equal(h.getSysctl("net/ipv6/conf/eth0/accept_dad"), "0");
  // Routes the kernel added for the addresses (protocol 2) and the ones configurePod did.
  const routes = () =>
    h.listRoutes({ table: 254 }).filter((x) => x.protocol !== 2).map((x) =>
      `${x.dst} via ${x.gateway}`
    );
  const want = [
    "0.0.0.0/0 via 10.22.0.1",
    "::/0 via fd00:22::1",
    "10.96.0.0/12 via 10.22.0.1",
    "192.168.0.0/16 via 10.22.0.254",
  ];
  assert.deepEqual(routes(), want);
  nl.clearCalls();
  configurePod(h, DUAL);
  assert.ok(nl.callsOf("addRoute").length > 0, "it tries again");
  assert.deepEqual(routes(), want, "and the kernel's answer 'exists' is fine");
});

Deno.test("configurePod: a vanished interface and kernel refusals are CNI errors naming the step", () => {
  const { nl, h } = pod();
  assert.throws(() => configurePod(h, { ...DUAL, ifname: "eth9" }), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.code, CniCode.NetlinkFailure);
    assert.equal(e.message, "Cannot configure eth9: it vanished from the pod netns");
    return true;
  });
  nl.failNext("addAddr", new NetlinkError(22, "invalid argument"));
  assert.throws(() => configurePod(h, DUAL), /add 10\.22\.0\.5\/24 to eth0/);
  nl.failNext("addRoute", new NetlinkError(101, "network unreachable"));
  assert.throws(() => configurePod(h, DUAL), /add route 0\.0\.0\.0\/0 in the pod/);
});

Deno.test("gatewaysOf: the IPAM gateway, else the first host when the plugin is the gateway", () => {
  assert.deepEqual(gatewaysOf([{ family: 4, address: "10.22.0.5/24" }], true), [
    { family: 4, ip: "10.22.0.1", cidr: "10.22.0.1/24" },
  ]);
  assert.deepEqual(gatewaysOf([{ family: 4, address: "10.22.0.5/24" }], false), []);
});
