import assert from "node:assert/strict";
import {
  canonMac,
  pickVtepMac,
  podMtu,
  randomVtepMac,
  sameVtep,
  usableVtep,
  usesVxlan,
  validVtepMac,
  vtepFor,
} from "./vtep.ts";
import { vtepMac } from "../testing/mac.ts";

Deno.test("vtep: the pod subnet's network address and the node's own MAC", () => {
  assert.deepEqual(vtepFor(["fd00:10:244:1::/64", "10.244.1.0/24"], "12:34:56:78:9A:BC"), {
    ip: "10.244.1.0",
    mac: "12:34:56:78:9a:bc",
  });
  assert.deepEqual(vtepFor(["10.244.255.128/25"], "02:00:00:00:00:01"), {
    ip: "10.244.255.128",
    mac: "02:00:00:00:00:01",
  });
  assert.equal(vtepFor(["fd00:10:244:1::/64"], "02:00:00:00:00:01"), undefined);
  assert.equal(vtepFor([], "02:00:00:00:00:01"), undefined);
});

Deno.test("vtep: a random MAC is locally administered unicast and differs per draw", () => {
  assert.equal(randomVtepMac(new Uint8Array([0xff, 1, 2, 3, 4, 5])), "fe:01:02:03:04:05");
  assert.equal(randomVtepMac(new Uint8Array([0, 0, 0, 0, 0, 0])), "02:00:00:00:00:00");
  assert.throws(() => randomVtepMac(new Uint8Array(5)), /Cannot make a MAC/);
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const m = randomVtepMac();
    assert.ok(validVtepMac(m), m);
    assert.equal(parseInt(m.slice(0, 2), 16) & 3, 2, "locally administered, unicast");
    seen.add(m);
  }
  assert.ok(seen.size > 60, "not derived from anything fixed");
});

Deno.test("vtep: the MAC is kept: the device's first, then the announced one, else random", () => {
  const random = () => "06:00:00:00:00:09";
  assert.equal(
    pickVtepMac({ device: "0A:00:00:00:00:01", announced: "0a:00:00:00:00:02", random }),
    "0a:00:00:00:00:01",
  );
  assert.equal(pickVtepMac({ announced: "0a:00:00:00:00:02", random }), "0a:00:00:00:00:02");
  assert.equal(pickVtepMac({ random }), "06:00:00:00:00:09");
  // Unusable candidates (multicast, zero, garbage) are replaced, not kept.
  assert.equal(
    pickVtepMac({ device: "01:00:5e:00:00:01", announced: "00:00:00:00:00:00", random }),
    "06:00:00:00:00:09",
  );
  assert.equal(pickVtepMac({ device: "zz", random }), "06:00:00:00:00:09");
  assert.ok(validVtepMac(pickVtepMac({})));
});

Deno.test("vtep: a peer's VTEP is used only when valid and inside its subnet", () => {
  assert.deepEqual(usableVtep({ ip: "10.244.2.0", mac: "0E:68:0A:F4:02:00" }, "10.244.2.0/24"), {
    ip: "10.244.2.0",
    mac: "0e:68:0a:f4:02:00",
  });
  assert.equal(usableVtep(undefined, "10.244.2.0/24"), undefined);
  assert.equal(
    usableVtep({ ip: "10.244.3.0", mac: vtepMac("10.244.3.0") }, "10.244.2.0/24"),
    undefined,
  );
  assert.equal(usableVtep({ ip: "fd00::", mac: "0e:00:00:00:00:01" }, "10.244.2.0/24"), undefined);
  assert.equal(usableVtep({ ip: "10.244.2.0", mac: "0e:00:00:00:01" }, "10.244.2.0/24"), undefined);
  assert.equal(canonMac(" AA:bb:CC:dd:EE:ff "), "aa:bb:cc:dd:ee:ff");
  assert.ok(
    sameVtep({ ip: "10.0.0.0", mac: "AA:00:00:00:00:01" }, {
      ip: "10.0.0.0",
      mac: "aa:00:00:00:00:01",
    }),
  );
  assert.ok(!sameVtep({ ip: "10.0.0.0", mac: "aa:00:00:00:00:01" }, undefined));
  assert.ok(sameVtep(undefined, undefined));
});

Deno.test("vtep: pod MTU is the uplink's for host-gw, 50 less when a peer may be tunnelled", () => {
  assert.equal(podMtu({ mtu: 0, backend: "host-gw", uplinkMtu: 1500 }), 1500);
  assert.equal(podMtu({ mtu: 0, backend: "vxlan", uplinkMtu: 1500 }), 1450);
  assert.equal(podMtu({ mtu: 0, backend: "auto", uplinkMtu: 9000 }), 8950);
  assert.equal(podMtu({ mtu: 0, backend: "auto" }), 1450, "1500 when the uplink is unknown");
  assert.equal(podMtu({ mtu: 1300, backend: "auto", uplinkMtu: 9000 }), 1300, "the flag wins");
  assert.deepEqual(
    (["host-gw", "vxlan", "auto"] as const).map(usesVxlan),
    [false, true, true],
  );
});
