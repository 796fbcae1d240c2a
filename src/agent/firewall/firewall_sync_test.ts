import assert from "node:assert/strict";
import { FakeExec } from "../../system/fake_exec.ts";
import { FakeIptables } from "../../system/fake_iptables.ts";
import { IptablesError } from "../../system/iptables.ts";
import type { FirewallSpec } from "./firewall.ts";
import { createFirewallDriver, IptablesDriver } from "./firewall_sync.ts";

const V4: FirewallSpec = { clusterCidrs: ["10.244.0.0/16"], masquerade: true };

/** An iptables-save of one table holding `n` rules. */
const saveWith = (n: number) =>
  `*filter\n:INPUT ACCEPT [0:0]\n${"-A INPUT -j ACCEPT\n".repeat(n)}COMMIT\n`;

Deno.test("createFirewallDriver: none leaves the rules to the operator", async () => {
  const exec = new FakeExec();
  const fw = await createFirewallDriver("none", exec);
  assert.equal(fw.name, "none");
  assert.equal(await fw.sync(V4), false);
  assert.equal(await fw.inSync(V4), true);
  assert.equal(await fw.remove(), false);
  assert.deepEqual(exec.calls, [], "nothing run");
});

Deno.test("createFirewallDriver: nftables drives the nft program", async () => {
  const exec = new FakeExec([
    { match: ["nft", "list"], reply: { code: 1, stderr: "No such file or directory" } },
    { match: ["nft", "-f"], reply: { code: 0 } },
  ]);
  const fw = await createFirewallDriver("nftables", exec);
  assert.equal(fw.name, "nftables");
  assert.equal(await fw.sync(V4), true);
  const apply = exec.calls.find((c) => c.argv[1] === "-f")!;
  assert.match(String(apply.opts.stdin), /table inet hostgate/);
});

Deno.test("createFirewallDriver: auto picks the iptables flavour holding more rules", async () => {
  for (const [legacy, nft, want] of [[5, 1, "legacy"], [0, 3, "nft"], [2, 2, "nft"]] as const) {
    const exec = new FakeExec([
      {
        match: (c) => /^ip6?tables-legacy-save$/.test(c.argv[0]!),
        reply: { stdout: saveWith(legacy) },
      },
      { match: (c) => /^ip6?tables-nft-save$/.test(c.argv[0]!), reply: { stdout: saveWith(nft) } },
    ]);
    const fw = await createFirewallDriver("auto", exec);
    exec.calls.length = 0;
    await fw.inSync(V4);
    assert.equal(exec.calls[0]?.argv[0], `iptables-${want}-save`, `legacy ${legacy}, nft ${nft}`);
  }
  // A flavour whose programs are missing holds nothing.
  const onlyNft = new FakeExec([
    {
      match: (c) => c.argv[0]!.includes("legacy"),
      reply: () => Promise.reject(new Error("ENOENT")),
    },
    { reply: { stdout: saveWith(0) } },
  ]);
  await (await createFirewallDriver("auto", onlyNft)).inSync(V4);
  assert.equal(onlyNft.calls.at(-1)!.argv[0], "iptables-nft-save");
  for (const backend of ["iptables-legacy", "iptables-nft"] as const) {
    const exec = new FakeExec([{ reply: { stdout: saveWith(0) } }]);
    await (await createFirewallDriver(backend, exec)).inSync(V4);
    assert.deepEqual(exec.calls.map((c) => c.argv[0]), [`iptables-${backend.slice(9)}-save`]);
  }
});

Deno.test("iptables driver: remove reports one family's failure only when nothing was removed", async () => {
  const v4 = new FakeIptables({ family: 4 });
  const v6 = new FakeIptables({ family: 6 });
  const fw = new IptablesDriver({ v4, v6 });
  await fw.sync({ ...V4, clusterCidrs: ["10.244.0.0/16", "fd00:10:244::/56"] });
  // v4 removed, v6 failing: the removal happened, so it is reported as done.
  v6.failNextSave();
  assert.equal(await fw.remove(), true);
  assert.equal(v4.rules("filter", "HOSTGATE-FWD"), undefined);
  // Now only v6 is left and it fails: nothing removed, the error surfaces.
  v6.failNextSave(new IptablesError(4, "Cannot run ip6tables-save: injected"));
  await assert.rejects(fw.remove(), /Cannot run ip6tables-save: injected/);
  assert.equal(await fw.remove(), true, "the next try removes v6");
  assert.equal(await fw.remove(), false, "and then nothing is left");
});
