import assert from "node:assert/strict";
import { canonMac, podMtu, sameVtep, usableVtep, usesVxlan, vtepFor, vtepMac } from "./vtep.ts";

Deno.test("vtep: the pod subnet's network address and a MAC derived from it", () => {
  assert.deepEqual(vtepFor(["fd00:10:244:1::/64", "10.244.1.0/24"]), {
    ip: "10.244.1.0",
    mac: "0e:68:0a:f4:01:00",
  });
  assert.deepEqual(vtepFor(["10.244.255.128/25"]), {
    ip: "10.244.255.128",
    mac: "0e:68:0a:f4:ff:80",
  });
  assert.equal(vtepFor(["fd00:10:244:1::/64"]), undefined);
  assert.equal(vtepFor([]), undefined);
  // Locally administered (bit 1) unicast (bit 0 clear).
  assert.equal(parseInt(vtepMac("1.2.3.4").slice(0, 2), 16) & 3, 2);
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
