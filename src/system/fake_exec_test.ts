import assert from "node:assert/strict";
import { FakeExec } from "./fake_exec.ts";

Deno.test("scripts match by program, argv prefix or predicate, in order, with limits", async () => {
  const exec = new FakeExec([
    { match: ["ip", "link"], reply: { stdout: "links" }, times: 1 },
    { match: "ip", reply: { code: 2, stderr: "other" } },
    { match: (c) => c.opts.stdin === "in", reply: (c) => ({ stdout: `got ${c.argv.join(" ")}` }) },
  ]);
  assert.deepEqual(await exec.run(["ip", "link", "show"]), {
    code: 0,
    stdout: "links",
    stderr: "",
  });
  assert.deepEqual(await exec.run(["ip", "link", "show"]), {
    code: 2,
    stdout: "",
    stderr: "other",
  });
  assert.equal((await exec.run(["cat"], { stdin: "in", env: { A: "1" } })).stdout, "got cat");
  await assert.rejects(exec.run(["missing"]), Deno.errors.NotFound);
  assert.equal(exec.calls.length, 4);
  assert.deepEqual(exec.calls[2], { argv: ["cat"], opts: { stdin: "in", env: { A: "1" } } });
  assert.equal(exec.callsOf("ip").length, 2);
});

Deno.test("a reply function can throw to simulate a spawn failure", async () => {
  const exec = new FakeExec().on({
    reply: () => {
      throw new Deno.errors.PermissionDenied("no exec");
    },
  });
  await assert.rejects(exec.run(["x"]), Deno.errors.PermissionDenied);
});
