import assert from "node:assert/strict";
import { FakeExec } from "./fake_exec.ts";
import { ExecTc, FakeTc, renderBatch, TcError } from "./tc.ts";

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
  await tc.batch([]);
  assert.equal(exec.calls.length, 0);
  await assert.rejects(
    tc.batch([["qdisc", "add", "dev", "hg0", "ingress"]]),
    /^TcError: Cannot run tc: exit 2: RTNETLINK answers: File exists$/,
  );
  await tc.batch([["qdisc", "add", "dev", "hg0", "ingress"]]);
  assert.deepEqual(exec.calls.map((c) => [c.argv.join(" "), c.opts.stdin]), [
    ["tc -batch -", "qdisc add dev hg0 ingress\n"],
    ["tc -batch -", "qdisc add dev hg0 ingress\n"],
  ]);
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
  const root = [
    "qdisc",
    "add",
    "dev",
    "hg0",
    "root",
    "handle",
    "1:",
    "tbf",
    "rate",
    "8000bit",
    "burst",
    "100",
    "latency",
    "25ms",
  ];
  await tc.batch([root]);
  assert.deepEqual(await tc.qdiscs("hg0"), [
    { kind: "tbf", handle: "1:", root: true, options: { rate: 1000, burst: 100 } },
  ]);
  await assert.rejects(tc.batch([root]), /Exclusivity flag on/);
  await assert.rejects(
    tc.batch([[
      "filter",
      "add",
      "dev",
      "hg0",
      "parent",
      "ffff:",
      "action",
      "mirred",
      "egress",
      "redirect",
      "dev",
      "hb0",
    ]]),
    /Parent Qdisc doesn't exists/,
  );
  await assert.rejects(tc.batch([["qdisc", "del", "dev", "hg0", "ingress"]]), /handle of zero/);
  await assert.rejects(
    tc.batch([["qdisc", "add", "dev", "gone0", "ingress"]]),
    /Cannot find device "gone0"/,
  );
  await assert.rejects(tc.batch([["qdisc", "add", "dev", "hg1", "root", "htb"]]), /unknown qdisc/);
  await assert.rejects(tc.batch([["class", "add", "dev", "hg0"]]), /unknown command/);
  await assert.rejects(
    tc.batch([["qdisc", "add", "dev", "hg1", "root", "tbf", "rate", "fast"]]),
    /bad rate fast/,
  );
  assert.deepEqual(await tc.qdiscs("gone0"), []);
  assert.deepEqual(await tc.ingressFilters("gone0"), []);
  await tc.batch([["qdisc", "del", "dev", "hg0", "root"]]);
  assert.deepEqual(await tc.qdiscs("hg0"), []);
});
