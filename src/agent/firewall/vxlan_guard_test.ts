import assert from "node:assert/strict";
import { FakeIptables } from "../../system/fake_iptables.ts";
import { IptablesDriver } from "./firewall_sync.ts";
import { renderVxlanGuard, VXLAN_CHAIN } from "./vxlan_guard.ts";
import { assertGolden } from "../testing/golden.ts";

const EMPTY = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
const GUARD = { port: 4789, peers: ["172.30.0.13", "172.30.0.12"] };

Deno.test("vxlan guard: fresh payload (golden)", async () => {
  await assertGolden("vxlan_guard_fresh.txt", renderVxlanGuard(EMPTY, GUARD));
  assert.equal(renderVxlanGuard(EMPTY, undefined), "", "no guard, nothing to remove");
});

Deno.test("vxlan guard: follows the peer set, drops the rest, never twice; removed without VXLAN", async () => {
  const v4 = new FakeIptables({ family: 4 });
  const fw = new IptablesDriver({ v4, v6: new FakeIptables({ family: 6 }) });
  const spec = { clusterCidrs: ["10.244.0.0/16"], masquerade: true, vxlanGuard: GUARD };
  v4.command("filter", ["-A", "INPUT", "-j", "ACCEPT"]); // an operator's rule stays after ours
  assert.equal(await fw.sync(spec), true);
  assert.equal(await fw.sync(spec), false, "second pass writes nothing");
  assert.deepEqual(v4.rules("filter", VXLAN_CHAIN)!.map((r) => r.split(" ").at(-1)), [
    "RETURN",
    "RETURN",
    "DROP",
  ]);
  assert.match(v4.rules("filter", VXLAN_CHAIN)![0]!, /^-s 172\.30\.0\.12\/32 /);
  const input = v4.rules("filter", "INPUT")!;
  assert.equal(input.length, 2);
  assert.match(input[0]!, /-p udp -m udp --dport 4789 .*-j HOSTGATE-VXLAN/);
  assert.equal(input[1], "-j ACCEPT");
  // A peer leaves: its RETURN goes at the next sync.
  const fewer = { ...spec, vxlanGuard: { port: 4789, peers: ["172.30.0.12"] } };
  assert.equal(await fw.inSync(fewer), false);
  assert.equal(await fw.sync(fewer), true);
  assert.equal(v4.rules("filter", VXLAN_CHAIN)!.length, 2);
  assert.equal(v4.rules("filter", "INPUT")!.filter((r) => r.includes(VXLAN_CHAIN)).length, 1);
  // No VXLAN any more: chain and jump gone, the operator's rule kept.
  assert.equal(await fw.sync({ clusterCidrs: spec.clusterCidrs, masquerade: true }), true);
  assert.equal(v4.rules("filter", VXLAN_CHAIN), undefined);
  assert.deepEqual(v4.rules("filter", "INPUT"), ["-j ACCEPT"]);
});
