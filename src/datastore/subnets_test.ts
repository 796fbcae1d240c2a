import assert from "node:assert/strict";
import {
  allocateSubnet,
  assignSubnets,
  cidrCovers,
  cidrFamily,
  cidrsOverlap,
  normalizeCidr,
  parseAddress,
  parseClusterCidrs,
  SubnetExhaustedError,
} from "./subnets.ts";

Deno.test("normalizeCidr canonicalizes both families", () => {
  assert.equal(normalizeCidr("10.244.1.7/24"), "10.244.1.0/24");
  assert.equal(normalizeCidr(" 10.0.0.0/8 "), "10.0.0.0/8");
  assert.equal(normalizeCidr("fd00:0010:0244:0000::/64"), "fd00:10:244::/64");
  assert.equal(normalizeCidr("fd00:0:0:1:0:0:0:0/64"), "fd00:0:0:1::/64");
  assert.equal(normalizeCidr("2001:db8:0:0:1:0:0:1/128"), "2001:db8::1:0:0:1/128");
  assert.equal(normalizeCidr("::/0"), "::/0");
  assert.throws(() => normalizeCidr("10.0.0.0"), /Cannot parse CIDR/);
  assert.throws(() => normalizeCidr("10.0.0.0/33"), /Cannot parse CIDR/);
  assert.throws(() => normalizeCidr("nonsense/8"), /Cannot parse CIDR/);
});

Deno.test("cidr relations", () => {
  assert.equal(cidrFamily("fd00::/8"), 6);
  assert.equal(cidrFamily("10.0.0.0/8"), 4);
  assert.ok(cidrsOverlap("10.244.0.0/16", "10.244.3.0/24"));
  assert.ok(!cidrsOverlap("10.244.0.0/24", "10.244.1.0/24"));
  assert.ok(!cidrsOverlap("10.0.0.0/8", "fd00::/8"));
  assert.ok(cidrCovers("10.244.0.0/16", "10.244.255.0/24"));
  assert.ok(!cidrCovers("10.244.0.0/24", "10.244.0.0/16"));
});

Deno.test("parseClusterCidrs splits by family, v4 first", () => {
  assert.deepEqual(parseClusterCidrs("10.244.0.0/16"), ["10.244.0.0/16"]);
  assert.deepEqual(parseClusterCidrs("fd00:10:244::/56, 10.244.0.0/16"), [
    "10.244.0.0/16",
    "fd00:10:244::/56",
  ]);
  assert.deepEqual(parseClusterCidrs(["10.244.5.0/16"]), ["10.244.0.0/16"]);
  assert.throws(() => parseClusterCidrs(""), /empty/);
  assert.throws(() => parseClusterCidrs("10.0.0.0/8,10.1.0.0/16"), /more than one IPv4/);
});

Deno.test("allocateSubnet picks the lowest free aligned block", () => {
  const clusterCidr = "10.244.0.0/16";
  assert.equal(allocateSubnet({ clusterCidr, taken: [] }), "10.244.0.0/24");
  assert.equal(
    allocateSubnet({ clusterCidr, taken: ["10.244.0.0/24", "10.244.2.0/24"] }),
    "10.244.1.0/24",
  );
  // A taken block of another size that covers several candidates.
  assert.equal(allocateSubnet({ clusterCidr, taken: ["10.244.0.0/23"] }), "10.244.2.0/24");
  // A small taken block inside a candidate makes the whole candidate unusable.
  assert.equal(allocateSubnet({ clusterCidr, taken: ["10.244.0.128/25"] }), "10.244.1.0/24");
  // Unsorted, overlapping, outside the cluster, other family, garbage: all tolerated.
  assert.equal(
    allocateSubnet({
      clusterCidr,
      taken: [
        "10.244.1.0/24",
        "10.0.0.0/16",
        "10.244.0.0/24",
        "fd00::/64",
        "junk",
        "10.244.0.0/24",
      ],
    }),
    "10.244.2.0/24",
  );
  assert.equal(
    allocateSubnet({ clusterCidr, prefixLength: 26, taken: ["10.244.0.0/26"] }),
    "10.244.0.64/26",
  );
});

Deno.test("allocateSubnet returns undefined when full and rejects bad sizes", () => {
  const taken = Array.from({ length: 4 }, (_, i) => `10.1.${i}.0/24`);
  assert.equal(allocateSubnet({ clusterCidr: "10.1.0.0/22", taken }), undefined);
  assert.equal(
    allocateSubnet({ clusterCidr: "10.1.0.0/22", taken: taken.slice(0, 3) }),
    "10.1.3.0/24",
  );
  assert.throws(() => allocateSubnet({ clusterCidr: "10.1.0.0/22", prefixLength: 21, taken }));
  assert.throws(() => allocateSubnet({ clusterCidr: "10.1.0.0/22", prefixLength: 33, taken }));
});

// Its speed is a benchmark's business (no timed assertions in tests).
Deno.test("allocateSubnet on a big space with many taken subnets finds the first free one", () => {
  const taken: string[] = [];
  for (let i = 0; i < 5000; i++) taken.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  assert.equal(allocateSubnet({ clusterCidr: "10.0.0.0/8", taken }), "10.19.136.0/24");
});

Deno.test("allocateSubnet in IPv6", () => {
  assert.equal(
    allocateSubnet({ clusterCidr: "fd00:10:244::/56", taken: ["fd00:10:244::/64"] }),
    "fd00:10:244:1::/64",
  );
  assert.equal(
    allocateSubnet({
      clusterCidr: "fd00:10:244::/63",
      taken: ["fd00:10:244::/64", "fd00:10:244:1::/64"],
    }),
    undefined,
  );
});

Deno.test("assignSubnets keeps a valid current subnet and allocates the rest", () => {
  const clusterCidrs = ["10.244.0.0/16", "fd00:10:244::/56"];
  assert.deepEqual(
    assignSubnets({ clusterCidrs, current: ["10.244.7.0/24"], taken: ["10.244.0.0/24"] }),
    ["10.244.7.0/24", "fd00:10:244::/64"],
  );
  // Current subnet now held by someone else: moves.
  assert.deepEqual(
    assignSubnets({
      clusterCidrs: ["10.244.0.0/16"],
      current: ["10.244.0.0/24"],
      taken: ["10.244.0.0/24"],
    }),
    ["10.244.1.0/24"],
  );
  // Current subnet of the wrong size or outside the cluster: replaced.
  assert.deepEqual(
    assignSubnets({ clusterCidrs: ["10.244.0.0/16"], current: ["10.244.8.0/25"], taken: [] }),
    ["10.244.0.0/24"],
  );
  assert.deepEqual(
    assignSubnets({ clusterCidrs: ["10.244.0.0/16"], current: ["10.9.0.0/24"], taken: [] }),
    ["10.244.0.0/24"],
  );
  assert.deepEqual(
    assignSubnets({ clusterCidrs: ["10.244.0.0/16"], prefixLengths: { 4: 20 }, taken: [] }),
    ["10.244.0.0/20"],
  );
});

Deno.test("assignSubnets throws SubnetExhaustedError naming the CIDR", () => {
  try {
    assignSubnets({ clusterCidrs: ["10.1.0.0/24"], taken: ["10.1.0.0/24"] });
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof SubnetExhaustedError);
    assert.equal(e.clusterCidr, "10.1.0.0/24");
    assert.match(
      e.message,
      /^Cannot allocate pod subnet: cluster CIDR 10\.1\.0\.0\/24 has no free \/24$/,
    );
  }
});

Deno.test("parseAddress accepts both families and rejects junk", () => {
  assert.deepEqual(parseAddress("10.0.0.1"), { family: 4, value: 0x0a000001n });
  assert.deepEqual(parseAddress("::1"), { family: 6, value: 1n });
  assert.deepEqual(parseAddress("::ffff:1.2.3.4"), { family: 6, value: 0xffff01020304n });
  assert.equal(parseAddress("fd00::")?.value, 0xfd00n << 112n);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.256",
      "01.2.3.4",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "g::",
      ":::",
    ]
  ) {
    assert.equal(parseAddress(bad), undefined, bad);
  }
  assert.equal(parseAddress("1:2:3:4:5:6:7::")?.family, 6);
  assert.equal(parseAddress("1:2:3:4:5:6:7:8::"), undefined);
});
