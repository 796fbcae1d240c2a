import assert from "node:assert/strict";
import { ConfigError, parseConfig, parseDuration } from "./config.ts";
import { usage } from "./options.ts";
import { OPTIONS } from "./options.ts";

const parse = (argv: string[], env: Record<string, string> = {}) =>
  parseConfig(argv, { env, hostname: "host-1" });

Deno.test("config: defaults", () => {
  const c = parse(["run"]);
  assert.equal(c.nodeName, "host-1");
  assert.equal(c.datastore, "kubernetes");
  assert.deepEqual(c.clusterCidrs, ["10.244.0.0/16"]);
  assert.equal(c.cniBinDir, "/opt/cni/bin");
  assert.equal(c.cniConfDir, "/etc/cni/net.d");
  assert.equal(c.conflistName, "10-hostgate.conflist");
  assert.equal(c.healthAddr, "127.0.0.1:9099");
  assert.equal(c.resyncIntervalMs, 30_000);
  assert.equal(c.debounceMs, 10);
  assert.equal(c.firewallBackend, "auto");
  assert.equal(c.masquerade, true);
  assert.equal(c.mtu, 0);
});

Deno.test("config: flag beats env beats default", () => {
  const env = {
    NODE_NAME: "env-node",
    DATASTORE: "etcd",
    CLUSTER_CIDR: "10.1.0.0/16",
    HEALTH_ADDR: ":9100",
  };
  const c = parse(["run", "--datastore=file"], env);
  assert.equal(c.nodeName, "env-node");
  assert.equal(c.datastore, "file");
  assert.deepEqual(c.clusterCidrs, ["10.1.0.0/16"]);
  assert.equal(c.healthAddr, ":9100");
  const d = parse(["install", "--cni-bin-dir", "/x/bin"], {
    CNI_BIN_DIR: "/y/bin",
    CNI_CONF_DIR: "/y/conf",
  });
  assert.equal(d.cniBinDir, "/x/bin");
  assert.equal(d.cniConfDir, "/y/conf");
});

Deno.test("config: values are parsed and normalized", () => {
  const c = parse([
    "run",
    "--cluster-cidr=10.244.7.0/16, fd00:10:244:0::/56",
    "--node-ip=192.168.1.10,fd00::10",
    "--resync-interval=2m",
    "--debounce=0",
    "--masquerade=false",
    "--manage-bridge",
    "--extra-plugins=/usr/lib/cni/portmap,/usr/lib/cni/loopback",
    "--etcd-endpoints=http://a:2379,http://b:2379",
  ]);
  assert.deepEqual(c.clusterCidrs, ["10.244.0.0/16", "fd00:10:244::/56"]);
  assert.deepEqual(c.nodeIps, ["192.168.1.10", "fd00::10"]);
  assert.equal(c.resyncIntervalMs, 120_000);
  assert.equal(c.debounceMs, 0);
  assert.equal(c.masquerade, false);
  assert.equal(c.manageBridge, true);
  assert.deepEqual(c.extraPlugins, ["/usr/lib/cni/portmap", "/usr/lib/cni/loopback"]);
  assert.deepEqual(c.etcdEndpoints, ["http://a:2379", "http://b:2379"]);
  assert.equal(parse(["status", "--json"]).json, true);
});

Deno.test("config: bad input is a ConfigError naming the flag", () => {
  const bad: [string[], RegExp][] = [
    [["bogus"], /command must be one of/],
    [["run", "--nope=1"], /Unknown option/],
    [["run", "--datastore=redis"], /--datastore must be one of/],
    [["run", "--cluster-cidr=10.0.0.0"], /--cluster-cidr is not a CIDR/],
    [["run", "--cluster-cidr=10.0.0.0/8,10.1.0.0/16"], /two IPv4 CIDRs/],
    [["run", "--node-ip=10.0.0.1/24"], /--node-ip is not an address/],
    [["run", "--mtu=abc"], /--mtu is not a number/],
    [["run", "--mtu=70000"], /--mtu must be within/],
    [["run", "--resync-interval=soon"], /--resync-interval is not a duration/],
    [["run", "--resync-interval=10ms"], /at least 100ms/],
    [["run", "--masquerade=maybe"], /--masquerade is not a boolean/],
    [["run", "--health-addr=nowhere"], /--health-addr is not host:port/],
    [["run", "--plugin-socket=plugin.sock"], /--plugin-socket must be an absolute path/],
    [
      ["run", `--plugin-socket=/${"d".repeat(95)}/p.sock`],
      /--plugin-socket must be in a folder of at most 93 bytes/,
    ],
    [["run", "--node-name=Bad_Name"], /not a DNS name/],
    [["run", "--firewall-backend=pf"], /--firewall-backend must be one of/],
    [["run", "--conflist-name=../x.conf"], /--conflist-name/],
    [["run", "--retry-min=10s", "--retry-max=1s"], /--retry-min/],
    [["uninstall", "--health-addr=:1"], /Unknown option/],
  ];
  for (const [argv, re] of bad) {
    assert.throws(
      () => parse(argv),
      (e: unknown) =>
        e instanceof ConfigError && re.test(e.message) &&
        e.message.startsWith("Cannot parse flags"),
      argv.join(" "),
    );
  }
});

Deno.test("config: --help is accepted without validating the rest", () => {
  assert.equal(parse(["run", "--help"], { NODE_NAME: "Bad_Name" }).help, true);
});

Deno.test("config: durations", () => {
  assert.equal(parseDuration("250ms", "x"), 250);
  assert.equal(parseDuration("1.5s", "x"), 1500);
  assert.equal(parseDuration("3", "x"), 3000);
  assert.equal(parseDuration("1h", "x"), 3_600_000);
});

Deno.test("config: every option shows in the help of the commands taking it, with its env", () => {
  for (const cmd of ["run", "install", "uninstall", "status"] as const) {
    const text = usage(cmd);
    for (const o of OPTIONS) {
      const shown = text.includes(`--${o.flag}`);
      assert.equal(shown, !o.only || o.only.includes(cmd), `${cmd} --${o.flag}`);
      if (shown && o.env) assert.ok(text.includes(`env ${o.env}`), `${cmd} ${o.env}`);
    }
  }
});

Deno.test("config: backend and VXLAN flags, env fallbacks, device named after the VNI", () => {
  const d = parse(["run"]);
  assert.deepEqual(
    [d.backend, d.vxlanVni, d.vxlanPort, d.vxlanDevice],
    ["host-gw", 1, 8472, "hostgate.1"],
  );
  const e = parse(["run", "--vxlan-vni=42"], { BACKEND: "auto", HOSTGATE_VXLAN_PORT: "4789" });
  assert.deepEqual(
    [e.backend, e.vxlanVni, e.vxlanPort, e.vxlanDevice],
    ["auto", 42, 4789, "hostgate.42"],
  );
  assert.equal(parse(["uninstall", "--vxlan-device=hostgate-vx"]).vxlanDevice, "hostgate-vx");
  assert.throws(() => parse(["run", "--backend=ipip"]), /--backend must be one of/);
  assert.throws(() => parse(["run", "--vxlan-vni=16777216"]), /--vxlan-vni must be within/);
  assert.throws(() => parse(["run", "--vxlan-port=0"]), /--vxlan-port must be within/);
  assert.throws(() => parse(["run", "--vxlan-device=hostgate0"]), /--vxlan-device/);
  assert.match(usage("run"), /--backend=VALUE .*\[env BACKEND\] \(default host-gw\)/);
});
