import assert from "node:assert/strict";
import { CniCode, CniError } from "../errors.ts";
import { DEFAULT_DATA_DIR, type LocalIpamConfig, parseIpamConfig } from "./config.ts";

function local(ipam: Record<string, unknown>): LocalIpamConfig {
  const c = parseIpamConfig({ type: "hostgate-local", ...ipam });
  assert.equal(c.kind, "local");
  return c as LocalIpamConfig;
}

function assertCode7(ipam: unknown, key: string | RegExp): void {
  assert.throws(
    () => parseIpamConfig(ipam),
    (e: unknown) => {
      assert.ok(e instanceof CniError, String(e));
      assert.equal(e.code, CniCode.InvalidNetworkConfig);
      if (typeof key === "string") assert.ok(e.message.includes(key), `${e.message} lacks ${key}`);
      else assert.match(e.message, key);
      return true;
    },
  );
}

Deno.test("defaults: gateway .1, range .1-.254 (gateway skipped later), dataDir on tmpfs", () => {
  const c = local({ ranges: [[{ subnet: "10.22.0.0/24" }]] });
  const r = c.rangeSets[0]!.ranges[0]!;
  assert.equal(c.rangeSets[0]!.family, 4);
  assert.equal(r.subnet.text, "10.22.0.0/24");
  assert.equal(r.gateway, "10.22.0.1");
  assert.equal(r.rangeStart, "10.22.0.1");
  assert.equal(r.rangeEnd, "10.22.0.254");
  assert.equal(c.dataDir, DEFAULT_DATA_DIR);
  assert.equal(c.dataDir, "/run/hostgate/ipam");
  assert.deepEqual(c.routes, []);
  assert.deepEqual(c.reservedRanges, []);
  assert.equal(c.dns, undefined);
});

Deno.test("v6 defaults exclude the all-ones address too", () => {
  const r = local({ ranges: [[{ subnet: "fd00:22::/64" }]] }).rangeSets[0]!.ranges[0]!;
  assert.equal(r.gateway, "fd00:22::1");
  assert.equal(r.rangeEnd, "fd00:22::ffff:ffff:ffff:fffe");
});

Deno.test("explicit range, gateway, host bits in the subnet, dual-stack, legacy subnet first", () => {
  const c = local({
    subnet: "10.9.0.0/16",
    ranges: [
      [{
        subnet: "10.22.0.7/24",
        rangeStart: "10.22.0.10",
        rangeEnd: "10.22.0.20",
        gateway: "10.22.0.254",
      }],
      [{ subnet: "FD00:22::/64", gateway: "fd00:22::FE" }],
    ],
    dataDir: "/tmp/x/",
  });
  assert.equal(c.rangeSets.length, 3);
  assert.equal(c.rangeSets[0]!.ranges[0]!.subnet.text, "10.9.0.0/16", "legacy subnet is set 0");
  const r = c.rangeSets[1]!.ranges[0]!;
  assert.equal(r.subnet.text, "10.22.0.0/24");
  assert.deepEqual([r.rangeStart, r.rangeEnd, r.gateway], [
    "10.22.0.10",
    "10.22.0.20",
    "10.22.0.254",
  ]);
  assert.equal(c.rangeSets[2]!.family, 6);
  assert.equal(c.rangeSets[2]!.ranges[0]!.gateway, "fd00:22::fe");
  assert.equal(c.dataDir, "/tmp/x");
});

Deno.test("routes, reservedRanges, dns and resolvConf", () => {
  const c = local({
    ranges: [[{ subnet: "10.22.0.0/24" }]],
    routes: [{ dst: "0.0.0.0/0" }, { dst: "10.96.0.5/12", gw: "10.22.0.1" }, {
      dst: "::/0",
      gw: "fd00::1",
    }],
    reservedRanges: ["10.22.0.10-10.22.0.19", "10.22.0.64/27", "10.22.0.200"],
    dns: {
      nameservers: ["10.96.0.10"],
      domain: "cluster.local",
      search: ["svc.cluster.local"],
      options: ["ndots:5"],
    },
    resolvConf: "/etc/resolv.conf",
  });
  assert.deepEqual(c.routes, [
    { dst: "0.0.0.0/0" },
    { dst: "10.96.0.0/12", gw: "10.22.0.1" },
    { dst: "::/0", gw: "fd00::1" },
  ]);
  assert.deepEqual(c.reservedRanges.map((r) => `${r.start}-${r.end}`), [
    "10.22.0.10-10.22.0.19",
    "10.22.0.64-10.22.0.95",
    "10.22.0.200-10.22.0.200",
  ]);
  assert.deepEqual(c.dns, {
    nameservers: ["10.96.0.10"],
    domain: "cluster.local",
    search: ["svc.cluster.local"],
    options: ["ndots:5"],
  });
  assert.equal(c.resolvConf, "/etc/resolv.conf");
});

Deno.test("other types: delegated by name, ippool recognised", () => {
  assert.deepEqual(parseIpamConfig({ type: "host-local", subnet: "whatever" }), {
    kind: "delegated",
    type: "host-local",
  });
  assert.equal(parseIpamConfig({ type: "hostgate-ippool", pool: "p" }).kind, "ippool");
});

Deno.test("invalid configs are code 7 naming the key", () => {
  const t = "hostgate-local";
  const cases: [unknown, string | RegExp][] = [
    [undefined, "ipam is required"],
    [[], "ipam must be an object"],
    [{}, "ipam.type"],
    [{ type: "" }, "ipam.type"],
    [{ type: "../bin/evil" }, "ipam.type"],
    [{ type: ".." }, "ipam.type"],
    [{ type: t }, "ipam.ranges must name at least one subnet"],
    [{ type: t, ranges: {} }, "ipam.ranges"],
    [{ type: t, ranges: [[]] }, "ipam.ranges[0]"],
    [{ type: t, ranges: [{ subnet: "10.0.0.0/24" }] }, "ipam.ranges[0]"],
    [{ type: t, ranges: [["10.0.0.0/24"]] }, "ipam.ranges[0][0]"],
    [{ type: t, ranges: [[{ subnet: 5 }]] }, "ipam.ranges[0][0].subnet"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0" }]] }, "ipam.ranges[0][0].subnet"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/33" }]] }, "ipam.ranges[0][0].subnet"],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/31" }]] },
      /ranges\[0\]\[0\]\.subnet 10\.0\.0\.0\/31 is too small/,
    ],
    [{ type: t, ranges: [[{ subnet: "10.0.0.1/32" }]] }, "too small"],
    [{ type: t, ranges: [[{ subnet: "fd00::/127" }]] }, "too small"],
    [{ type: t, ranges: [[{ subnet: "fd00::/128" }]] }, "too small"],
    [{ type: t, subnet: "10.0.0.0/31" }, "ipam.subnet"],
    [{ type: t, rangeStart: "10.0.0.5" }, "ipam.rangeStart needs ipam.subnet"],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24", rangeStart: "10.0.1.5" }]] },
      "ipam.ranges[0][0].rangeStart 10.0.1.5 is not in subnet",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24", rangeEnd: "fd00::1" }]] },
      "ipam.ranges[0][0].rangeEnd",
    ],
    [{
      type: t,
      ranges: [[{ subnet: "10.0.0.0/24", rangeStart: "10.0.0.50", rangeEnd: "10.0.0.40" }]],
    }, "is after rangeEnd"],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24", gateway: "10.0.1.1" }]] },
      "ipam.ranges[0][0].gateway",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24", gateway: "10.0.0.255" }]] },
      "network or broadcast",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24", gateway: "nope" }]] },
      "ipam.ranges[0][0].gateway must be an IP address",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24" }, { subnet: "fd00::/64" }]] },
      "mixes address families",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24" }, { subnet: "10.0.0.0/25" }]] },
      "ipam.ranges[0][1] overlaps ipam.ranges[0][0]",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/16" }], [{ subnet: "10.0.5.0/24" }]] },
      "range set 1 (10.0.5.0/24) overlaps range set 0",
    ],
    [{ type: t, subnet: "10.0.0.0/24", ranges: [[{ subnet: "10.0.0.0/24" }]] }, "overlaps"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], dataDir: "rel/dir" }, "ipam.dataDir"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], dataDir: 5 }, "ipam.dataDir"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], stickyTtl: "3600" }, "ipam.stickyTtl"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], stickyTtl: -1 }, "ipam.stickyTtl"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], stickyTtl: 1.5 }, "ipam.stickyTtl"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], routes: {} }, "ipam.routes"],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], routes: [{ dst: "x" }] },
      "ipam.routes[0].dst",
    ],
    [{
      type: t,
      ranges: [[{ subnet: "10.0.0.0/24" }]],
      routes: [{ dst: "0.0.0.0/0", gw: "fd00::1" }],
    }, "ipam.routes[0].gw"],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], reservedRanges: "10.0.0.1" },
      "ipam.reservedRanges",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], reservedRanges: ["10.0.0.9-10.0.0.1"] },
      "ipam.reservedRanges[0]",
    ],
    [
      { type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], dns: { nameservers: ["x"] } },
      "ipam.dns.nameservers[0]",
    ],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], dns: { search: "a" } }, "ipam.dns.search"],
    [{ type: t, ranges: [[{ subnet: "10.0.0.0/24" }]], resolvConf: 1 }, "ipam.resolvConf"],
  ];
  for (const [ipam, key] of cases) assertCode7(ipam, key);
});
