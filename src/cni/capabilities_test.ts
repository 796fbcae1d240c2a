import assert from "node:assert/strict";
import { CniCode } from "../errors.ts";
import { MAX_BURST_BITS, parseRuntimeConfig, type PortMapping } from "./capabilities.ts";
import { failureOf } from "./testing.ts";

/** Asserts `runtimeConfig` fails with code 7 naming exactly `key`. */
function rejects(runtimeConfig: unknown, key: string): void {
  const f = failureOf(() => parseRuntimeConfig(runtimeConfig));
  assert.ok(f, `expected ${JSON.stringify(runtimeConfig)} to fail`);
  assert.equal(f.code, CniCode.InvalidNetworkConfig, f.msg);
  assert.ok(f.msg.startsWith(`Cannot parse config: ${key} `), `${f.msg} should name ${key}`);
}

Deno.test("runtimeConfig: absent or empty is no capability", () => {
  for (const v of [undefined, null, {}]) {
    assert.deepEqual(parseRuntimeConfig(v), { ips: [], portMappings: [] });
  }
  rejects([], "runtimeConfig");
  rejects("x", "runtimeConfig");
});

Deno.test("portMappings: containerd's keys and podman's decode to the same values", () => {
  const want: PortMapping[] = [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "192.0.2.7" },
    { hostPort: 9000, containerPort: 9000, protocol: "sctp", hostIP: "2001:db8::7" },
  ];
  const containerd = parseRuntimeConfig({
    portMappings: [
      { HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "" },
      { HostPort: 5353, ContainerPort: 53, Protocol: "UDP", HostIP: "192.0.2.7" },
      { HostPort: 9000, ContainerPort: 9000, Protocol: "sctp", HostIP: "2001:DB8:0::7" },
    ],
  });
  const podman = parseRuntimeConfig({
    portMappings: [
      { hostPort: 8080, containerPort: 80 },
      { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "192.0.2.7" },
      { hostPort: 9000, containerPort: 9000, protocol: "SCTP", hostIP: "2001:db8::7" },
    ],
  });
  assert.deepEqual(containerd.portMappings, want);
  assert.deepEqual(podman.portMappings, want);
  // The capability's own key is matched the same way.
  assert.deepEqual(
    parseRuntimeConfig({ PortMappings: [{ HostPort: 1, ContainerPort: 2 }] })
      .portMappings,
    [{ hostPort: 1, containerPort: 2, protocol: "tcp" }],
  );
});

Deno.test("portMappings: wrong values are code 7 naming the field as spelled", () => {
  const pm = (m: unknown) => ({ portMappings: [{ hostPort: 80, containerPort: 80 }, m] });
  rejects({ portMappings: {} }, "runtimeConfig.portMappings");
  const at = "runtimeConfig.portMappings[1]";
  const cases: [unknown, string][] = [
    ["80:80", ""],
    [{ containerPort: 80 }, ".hostPort"],
    [{ HostPort: "80", ContainerPort: 80 }, ".HostPort"],
    [{ hostPort: 80, containerPort: 0 }, ".containerPort"],
    [{ hostPort: 65536, containerPort: 1 }, ".hostPort"],
    [{ hostPort: 80.5, containerPort: 1 }, ".hostPort"],
    [{ HostPort: 80, ContainerPort: 1, Protocol: "icmp" }, ".Protocol"],
    [{ hostPort: 80, containerPort: 1, protocol: 6 }, ".protocol"],
    [{ hostPort: 80, containerPort: 1, hostIP: "nope" }, ".hostIP"],
    [{ HostPort: 80, ContainerPort: 1, HostIP: 7 }, ".HostIP"],
  ];
  for (const [mapping, field] of cases) rejects(pm(mapping), `${at}${field}`);
});

Deno.test("bandwidth: typed rates and bursts in either key case", () => {
  const want = {
    ingress: { rate: 1_000_000, burst: 8_000 },
    egress: { rate: 2_000_000, burst: 16_000 },
  };
  const podman = {
    ingressRate: 1_000_000,
    ingressBurst: 8_000,
    egressRate: 2e6,
    egressBurst: 16e3,
  };
  const containerd = {
    IngressRate: 1_000_000,
    IngressBurst: 8_000,
    EgressRate: 2_000_000,
    EgressBurst: 16_000,
  };
  assert.deepEqual(parseRuntimeConfig({ bandwidth: podman }).bandwidth, want);
  assert.deepEqual(parseRuntimeConfig({ bandwidth: containerd }).bandwidth, want);
  assert.deepEqual(
    parseRuntimeConfig({ bandwidth: { egressRate: 5, egressBurst: 6, ingressRate: 0 } }).bandwidth,
    { egress: { rate: 5, burst: 6 } },
  );
  assert.equal(parseRuntimeConfig({ bandwidth: {} }).bandwidth, undefined);
  assert.equal(
    parseRuntimeConfig({ bandwidth: { IngressRate: 0, EgressBurst: null } }).bandwidth,
    undefined,
  );
});

Deno.test("bandwidth: wrong JSON types and half-set buckets are code 7 naming the field", () => {
  const cases: [unknown, string][] = [
    [[], ""],
    [100, ""],
    [{ ingressRate: "1000", ingressBurst: 10 }, ".ingressRate"],
    [{ IngressRate: 1000, IngressBurst: true }, ".IngressBurst"],
    [{ egressRate: -1, egressBurst: 10 }, ".egressRate"],
    [{ egressRate: 1.5, egressBurst: 10 }, ".egressRate"],
    [{ egressRate: 2 ** 60, egressBurst: 10 }, ".egressRate"],
    [{ ingressRate: 1000 }, ".ingressBurst"],
    [{ egressBurst: 1000 }, ".egressRate"],
    [{ ingressRate: 1, ingressBurst: MAX_BURST_BITS + 1 }, ".ingressBurst"],
  ];
  for (const [bandwidth, field] of cases) {
    rejects({ bandwidth }, `runtimeConfig.bandwidth${field}`);
  }
  assert.deepEqual(
    parseRuntimeConfig({ bandwidth: { ingressRate: 1, ingressBurst: MAX_BURST_BITS } }).bandwidth,
    { ingress: { rate: 1, burst: MAX_BURST_BITS } },
  );
});

Deno.test("dns, mac and ips capabilities", () => {
  const c = parseRuntimeConfig({
    ips: ["10.22.0.7/24", "FD00::7"],
    mac: "0A:58:0A:16:00:07",
    dns: { servers: ["10.96.0.10"], searches: ["svc.cluster.local"], options: ["ndots:5"] },
  });
  assert.deepEqual(c, {
    ips: ["10.22.0.7", "fd00::7"],
    mac: "0a:58:0a:16:00:07",
    portMappings: [],
    dns: { servers: ["10.96.0.10"], searches: ["svc.cluster.local"], options: ["ndots:5"] },
  });
  assert.deepEqual(parseRuntimeConfig({ DNS: { Servers: ["::1"] } }).dns, {
    servers: ["::1"],
    searches: [],
    options: [],
  });
  assert.equal(parseRuntimeConfig({ mac: "" }).mac, undefined);
  rejects({ mac: "0a:58:0a:16:00" }, "runtimeConfig.mac");
  rejects({ mac: 5 }, "runtimeConfig.mac");
  rejects({ dns: [] }, "runtimeConfig.dns");
  rejects({ dns: { servers: "10.96.0.10" } }, "runtimeConfig.dns.servers");
  rejects({ dns: { servers: ["resolver"] } }, "runtimeConfig.dns.servers[0]");
  rejects({ dns: { searches: [1] } }, "runtimeConfig.dns.searches");
  rejects({ ips: ["10.22.0.7", "x"] }, "runtimeConfig.ips[1]");
});
