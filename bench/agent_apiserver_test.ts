import assert from "node:assert/strict";
import { nodeIpOf, podCidrOf } from "./agent_apiserver.ts";

Deno.test("agent bench: 5,000 nodes get distinct pod subnets and on-link IPs apart from them", () => {
  const cidrs = new Set<string>();
  const ips = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const c = podCidrOf(i);
    const ip = nodeIpOf(i);
    assert.match(c, /^10\.(\d+)\.(\d+)\.0\/24$/);
    assert.ok(c.split(".").slice(1, 3).every((o) => Number(o) <= 255), c);
    assert.match(ip, /^172\.16\.(\d+)\.(\d+)$/, "inside the agent's 172.16.0.0/16 uplink");
    assert.ok(ip.split(".").slice(2).every((o) => Number(o) <= 255), ip);
    assert.notEqual(ip, "172.16.255.254", "not the list/watch server's address");
    cidrs.add(c);
    ips.add(ip);
  }
  assert.equal(cidrs.size, 5000);
  assert.equal(ips.size, 5000);
  assert.equal(nodeIpOf(0), "172.16.0.10", "node-0 is the agent under test");
});
