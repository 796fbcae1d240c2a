import assert from "node:assert/strict";
import { tryParseIp } from "../../net/mod.ts";
import {
  nthFree,
  pickFree,
  podReleasesAddress,
  type RandomBelow,
  reclaimOrder,
} from "./allocator.ts";
import { parsePool, subFor } from "./pool.ts";

/** A seeded generator (mulberry32), so failures replay. */
function seeded(seed: number): RandomBelow {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return BigInt(Math.floor(r * Number(n)));
  };
}

const pool = parsePool({
  metadata: { name: "p" },
  spec: {
    ipPoolSubs: [{
      range: "10.40.0.0-10.40.0.63/26",
      reservedRanges: ["10.40.0.10-10.40.0.19"],
      gateway: "10.40.0.62",
    }],
  },
});
const v = (ip: string) => tryParseIp(ip)!.value;

Deno.test("pickFree: only free addresses, spread over the pool, never a taken one", () => {
  const random = seeded(7);
  const taken = new Set([v("10.40.0.2"), v("10.40.0.3")]);
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const ip = pickFree({ subs: pool.subs, family: 4, taken, random })!;
    assert.ok(subFor(pool, ip), `${ip} is free in the pool`);
    assert.ok(!taken.has(v(ip)));
    seen.add(ip);
  }
  // 64 addresses minus network, broadcast, gateway and 10 reserved; 2 of these 51 are taken.
  assert.equal(pool.subs[0]!.size, 51n);
  assert.ok(seen.size > 40, `random picks cover the pool (${seen.size})`);
});

Deno.test("pickFree: finds the last free address by scanning, undefined when full", () => {
  const all: bigint[] = [];
  for (const i of pool.subs[0]!.free) for (let x = i.start; x <= i.end; x++) all.push(x);
  const last = all[17]!;
  const taken = new Set(all.filter((x) => x !== last));
  taken.add(v("10.99.0.1")); // outside the pool: ignored
  for (let seed = 0; seed < 20; seed++) {
    const ip = pickFree({ subs: pool.subs, family: 4, taken, random: seeded(seed), tries: 2 });
    assert.equal(v(ip!), last);
  }
  taken.add(last);
  assert.equal(pickFree({ subs: pool.subs, family: 4, taken, random: seeded(1) }), undefined);
  assert.equal(pickFree({ subs: pool.subs, family: 6, taken, random: seeded(1) }), undefined);
});

Deno.test("pickFree works on an IPv6 /64 without enumerating it", () => {
  const p6 = parsePool({ metadata: { name: "p6" }, spec: { cidr: "fd00:9::/64" } });
  const ip = pickFree({ subs: p6.subs, family: 6, taken: new Set(), random: seeded(3) })!;
  assert.ok(subFor(p6, ip), ip);
  assert.equal(nthFree(p6.subs[0]!.free, 0n), v("fd00:9::2"));
});

Deno.test("reclaimOrder: released first, then held with a known pod; never held without pod", () => {
  const c = (id: string, state: "Allocated" | "Released", pod?: string) => ({
    id,
    state,
    podNamespace: pod ? "ns" : undefined,
    podName: pod,
  });
  const cands = [
    c("h1", "Allocated", "a"),
    c("r1", "Released", "b"),
    c("anon", "Allocated"),
    c("h2", "Allocated", "c"),
    c("r2", "Released"),
  ];
  for (let seed = 0; seed < 10; seed++) {
    const order = reclaimOrder(cands, seeded(seed)).map((x) => x.id);
    assert.equal(order.length, 4);
    assert.deepEqual(order.slice(0, 2).sort(), ["r1", "r2"]);
    assert.deepEqual(order.slice(2).sort(), ["h1", "h2"]);
  }
});

Deno.test("a pod gives up its address when gone, Succeeded or Failed only", () => {
  assert.equal(podReleasesAddress(undefined), true);
  assert.equal(podReleasesAddress("Succeeded"), true);
  assert.equal(podReleasesAddress("Failed"), true);
  for (const p of ["Pending", "Running", "Unknown"]) assert.equal(podReleasesAddress(p), false);
});
