/**
 * Pod bandwidth on the fake kernel and the stateful tc fake: shaping set up,
 * confirmed by CHECK, torn down and collected; a failing batch leaves no IFB.
 * @module
 */
import assert from "node:assert/strict";
import { CniCode, CniError } from "../../errors.ts";
import { FakeNetlink } from "../../system/netlink/mod.ts";
import { FakeTc, TcError } from "../../system/tc.ts";
import { checkShaping, ensureShaping, gcShaping, ifbName, removeShaping } from "./mod.ts";

const VETH = "hg0123456789ab";
const BOTH = {
  ingress: { rate: 1_000_000, burst: 80_000 },
  egress: { rate: 2_000_000, burst: 16_000 },
};

function node() {
  const nl = new FakeNetlink();
  nl.addNetns("/run/netns/pod");
  const host = nl.open();
  host.addVeth({ name: VETH, peerName: "eth0", peerNetns: "/run/netns/pod" });
  const tc = new FakeTc({ exists: (dev) => host.getLink(dev) !== undefined });
  return { nl, host, tc };
}

const code = (c: number, msg: RegExp) => (e: unknown) =>
  e instanceof CniError && e.code === c && msg.test(e.message);

Deno.test("shaping: both directions set up, confirmed by CHECK, its IFB removed again", async () => {
  const { host, tc } = node();
  await ensureShaping({ tc, host }, { hostVeth: VETH, bandwidth: BOTH, mtu: 1450 });
  const ifb = host.getLink(ifbName(VETH))!;
  assert.deepEqual([ifb.kind, ifb.up, ifb.mtu], ["ifb", true, 1450]);
  assert.equal(tc.batches.length, 1, "one apply for all of it");
  await checkShaping({ tc }, { hostVeth: VETH, bandwidth: BOTH });
  await assert.rejects(
    checkShaping({ tc }, {
      hostVeth: VETH,
      bandwidth: { ...BOTH, ingress: { rate: 5_000_000, burst: 80_000 } },
    }),
    code(CniCode.CheckFailed, /hg0123456789ab has no TBF of 5000000 bit\/s \(ingress limit\)/),
  );
  assert.equal(removeShaping(host, VETH), true);
  tc.dropDevice(ifbName(VETH));
  assert.equal(removeShaping(host, VETH), false, "already gone is fine");
  await assert.rejects(
    checkShaping({ tc }, { hostVeth: VETH, bandwidth: BOTH }),
    code(CniCode.CheckFailed, /hb0123456789ab has no TBF of 2000000 bit\/s \(egress limit\)/),
  );
});

Deno.test("shaping: a failed tc batch removes the IFB it made and is an internal error", async () => {
  const { host, tc } = node();
  tc.failNext(new TcError("Cannot run tc: exit 2: RTNETLINK answers: Invalid argument"));
  await assert.rejects(
    ensureShaping({ tc, host }, { hostVeth: VETH, bandwidth: BOTH }),
    code(CniCode.Internal, /^Cannot apply bandwidth limits: .*Invalid argument/),
  );
  assert.equal(host.getLink(ifbName(VETH)), undefined);
});

Deno.test("shaping: a failure half way (the filter refused) also removes the IFB", async () => {
  const { host, tc } = node();
  tc.failNext(new TcError("Cannot add filter redirecting: operation not supported"), 3);
  await assert.rejects(
    ensureShaping({ tc, host }, { hostVeth: VETH, bandwidth: BOTH }),
    code(CniCode.Internal, /^Cannot apply bandwidth limits: .*operation not supported/),
  );
  assert.equal(host.getLink(ifbName(VETH)), undefined);
  assert.deepEqual(tc.batches[0]!.map((c) => c[0]), ["qdisc", "qdisc", "qdisc", "filter"]);
});

Deno.test("shaping: a redirect to the wrong device fails CHECK; ingress only needs no IFB", async () => {
  const { host, tc } = node();
  await ensureShaping({ tc, host }, { hostVeth: VETH, bandwidth: { ingress: BOTH.ingress } });
  assert.equal(host.getLink(ifbName(VETH)), undefined);
  await checkShaping({ tc }, { hostVeth: VETH, bandwidth: { ingress: BOTH.ingress } });
  // Egress asked later, but its redirect points elsewhere.
  host.addIfb({ name: ifbName(VETH) });
  host.addIfb({ name: "other0" });
  await tc.apply([
    { op: "tbf", dev: ifbName(VETH), rateBits: 2_000_000, burst: 2000, latencyUs: 25_000 },
    { op: "ingress", dev: VETH },
    { op: "redirect", dev: VETH, to: "other0" },
  ]);
  await assert.rejects(
    checkShaping({ tc }, { hostVeth: VETH, bandwidth: BOTH }),
    code(CniCode.CheckFailed, /does not redirect its ingress to hb0123456789ab/),
  );
});

Deno.test("gcShaping: IFBs of pods not kept go; kept ones and foreign IFBs stay", () => {
  const { host } = node();
  host.addIfb({ name: ifbName(VETH) });
  host.addIfb({ name: "hbaaaaaaaaaaaa" });
  host.addIfb({ name: "ifb0" });
  assert.deepEqual(gcShaping(host, new Set([VETH])), ["hbaaaaaaaaaaaa"]);
  assert.deepEqual(host.listLinks().filter((l) => l.kind === "ifb").map((l) => l.name).sort(), [
    ifbName(VETH),
    "ifb0",
  ]);
});
