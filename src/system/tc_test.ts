import assert from "node:assert/strict";
import { FakeExec } from "./fake_exec.ts";
import { ExecTc, FakeTc, renderBatch, tcArgv, TcError } from "./tc.ts";

Deno.test("renderBatch: one line per command; a token that is not plain text is refused", () => {
  assert.equal(
    renderBatch([["qdisc", "add", "dev", "hg0", "ingress"], [
      "qdisc",
      "del",
      "dev",
      "hg0",
      "root",
    ]]),
    "qdisc add dev hg0 ingress\nqdisc del dev hg0 root\n",
  );
  for (const bad of ["a b", "x\ny", "$(reboot)", ""]) {
    assert.throws(() => renderBatch([["qdisc", "add", "dev", bad]]), TcError);
  }
});

const INGRESS = { op: "ingress", dev: "hg0" } as const;

Deno.test("tcArgv: each change as the tc command that makes it", () => {
  assert.deepEqual(
    [
      { op: "tbf", dev: "hb0", rateBits: 8000, burst: 100, latencyUs: 25_000 } as const,
      { op: "tbf", dev: "hb0", rateBits: 8000, burst: 100, latencyUs: 1500 } as const,
      INGRESS,
      { op: "redirect", dev: "hg0", to: "hb0" } as const,
    ].map((op) => tcArgv(op).join(" ")),
    [
      "qdisc add dev hb0 root handle 1: tbf rate 8000bit burst 100 latency 25ms",
      "qdisc add dev hb0 root handle 1: tbf rate 8000bit burst 100 latency 1500us",
      "qdisc add dev hg0 ingress",
      "filter add dev hg0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev hb0",
    ],
  );
});

Deno.test("ExecTc: one tc -batch process; failures carry tc's stderr; nothing to do runs nothing", async () => {
  const exec = new FakeExec([
    {
      match: ["tc", "-batch"],
      reply: { code: 2, stderr: "RTNETLINK answers: File exists\n" },
      times: 1,
    },
    { match: ["tc", "-batch"], reply: { code: 0 } },
  ]);
  const tc = new ExecTc(exec);
  await tc.apply([]);
  assert.equal(exec.calls.length, 0);
  await assert.rejects(
    tc.apply([INGRESS]),
    /^TcError: Cannot run tc: exit 2: RTNETLINK answers: File exists$/,
  );
  await tc.apply([INGRESS, { op: "redirect", dev: "hg0", to: "hb0" }]);
  assert.deepEqual(exec.calls.map((c) => [c.argv.join(" "), c.opts.stdin]), [
    ["tc -batch -", "qdisc add dev hg0 ingress\n"],
    [
      "tc -batch -",
      "qdisc add dev hg0 ingress\nfilter add dev hg0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev hb0\n",
    ],
  ]);
  await assert.rejects(tc.apply([{ op: "ingress", dev: "$(reboot)" }]), TcError);
  tc.close();
});

Deno.test("ExecTc: qdiscs and mirred redirects from tc's JSON; a missing device has none", async () => {
  const exec = new FakeExec([
    {
      match: ["tc", "-j", "qdisc", "show", "dev", "hg0"],
      reply: {
        stdout: JSON.stringify([{
          kind: "tbf",
          handle: "1:",
          root: true,
          options: { rate: 125000, burst: 10000 },
        }]),
      },
    },
    { match: ["tc", "-j", "qdisc", "show", "dev", "empty0"], reply: { stdout: "\n" } },
    {
      match: ["tc", "-j", "qdisc", "show", "dev", "gone0"],
      reply: { code: 1, stderr: 'Cannot find device "gone0"\n' },
    },
    {
      match: ["tc", "-j", "qdisc", "show", "dev", "odd0"],
      reply: { code: 1, stderr: "Error: something else\n" },
    },
    {
      match: ["tc", "-j", "filter"],
      reply: {
        stdout: JSON.stringify([
          { kind: "u32" }, // the filter's header entry, no action
          { kind: "u32", options: { actions: [{ kind: "gact" }] } },
          { kind: "u32", options: { actions: [{ kind: "mirred", to_dev: "hb0" }] } },
          { options: { actions: [{ kind: "mirred" }] } },
        ]),
      },
    },
  ]);
  const tc = new ExecTc(exec);
  assert.deepEqual(await tc.qdiscs("hg0"), [{
    kind: "tbf",
    handle: "1:",
    root: true,
    options: { rate: 125000, burst: 10000 },
  }]);
  assert.deepEqual(await tc.qdiscs("empty0"), []);
  assert.deepEqual(await tc.qdiscs("gone0"), []);
  await assert.rejects(
    tc.qdiscs("odd0"),
    /Cannot run tc -j qdisc show dev odd0: Error: something else/,
  );
  assert.deepEqual(await tc.ingressFilters("hg0"), [
    { kind: "u32", redirectTo: "hb0" },
    { kind: "" },
  ]);
  assert.deepEqual(exec.calls.at(-1)!.argv, [
    "tc",
    "-j",
    "filter",
    "show",
    "dev",
    "hg0",
    "ingress",
  ]);
});

Deno.test("FakeTc: refuses what the kernel refuses, and a device that is not there", async () => {
  const tc = new FakeTc({ exists: (dev) => dev !== "gone0" });
  const root = { op: "tbf", dev: "hg0", rateBits: 8000, burst: 100, latencyUs: 25_000 } as const;
  await tc.apply([root]);
  assert.deepEqual(await tc.qdiscs("hg0"), [
    { kind: "tbf", handle: "1:", root: true, options: { rate: 1000, burst: 100 } },
  ]);
  await assert.rejects(tc.apply([root]), /Exclusivity flag on/);
  await assert.rejects(
    tc.apply([{ op: "redirect", dev: "hg0", to: "hb0" }]),
    /Parent Qdisc doesn't exists/,
  );
  await tc.apply([INGRESS]);
  await assert.rejects(tc.apply([INGRESS]), /Exclusivity flag on/);
  await assert.rejects(
    tc.apply([{ op: "redirect", dev: "hg0", to: "gone0" }]),
    /Cannot find device "gone0"/,
  );
  await assert.rejects(tc.apply([{ op: "ingress", dev: "gone0" }]), /Cannot find device "gone0"/);
  await assert.rejects(tc.apply([{ ...root, dev: "hg1", rateBits: 7 }]), /rate 7 bit\/s/);
  assert.deepEqual(await tc.qdiscs("gone0"), []);
  assert.deepEqual(await tc.ingressFilters("gone0"), []);
  await tc.apply([{ op: "redirect", dev: "hg0", to: "hb0" }]);
  assert.deepEqual(await tc.ingressFilters("hg0"), [{ kind: "u32", redirectTo: "hb0" }]);
  tc.deleteQdisc("hg0", "ingress");
  assert.deepEqual(await tc.ingressFilters("hg0"), [], "the filters go with the ingress qdisc");
  assert.throws(() => tc.deleteQdisc("hg0", "ingress"), /handle of zero/);
  tc.deleteQdisc("hg0", "root");
  assert.deepEqual(await tc.qdiscs("hg0"), []);
});

Deno.test("FakeTc: an injected failure, before any change or half way", async () => {
  const tc = new FakeTc();
  const ops = [
    { op: "tbf", dev: "hb0", rateBits: 8000, burst: 100, latencyUs: 25_000 },
    INGRESS,
    { op: "redirect", dev: "hg0", to: "hb0" },
  ] as const;
  tc.failNext();
  await assert.rejects(tc.apply(ops), /injected/);
  assert.deepEqual(await tc.qdiscs("hb0"), []);
  tc.failNext(new TcError("Cannot add filter: boom"), 2);
  await assert.rejects(tc.apply(ops), /boom/);
  assert.equal((await tc.qdiscs("hb0")).length, 1);
  assert.equal((await tc.qdiscs("hg0")).length, 1);
  assert.deepEqual(await tc.ingressFilters("hg0"), []);
  assert.equal(tc.batches.length, 2, "each apply recorded as its tc commands");
  assert.equal(tc.batches[1]!.length, 3);
});
