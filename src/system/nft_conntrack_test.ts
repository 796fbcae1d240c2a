/**
 * The nft and conntrack programs behind their interfaces, on a scripted
 * process runner: argv, "absent" answers told apart from failures, JSON read.
 * @module
 */
import assert from "node:assert/strict";
import { conntrackDeleteArgv, ExecConntrack } from "./conntrack.ts";
import { FakeExec } from "./fake_exec.ts";
import { ExecNft, NftError } from "./nft.ts";

Deno.test("ExecNft: a missing table is undefined, other failures are errors; JSON without metainfo", async () => {
  const exec = new FakeExec([
    {
      match: ["nft", "list", "table", "inet", "gone"],
      reply: { code: 1, stderr: "Error: No such file or directory\n" },
    },
    {
      match: ["nft", "list", "table", "inet", "odd"],
      reply: { code: 1, stderr: "Error: syntax\n" },
    },
    {
      match: ["nft", "-j", "list", "table", "inet", "gone"],
      reply: { code: 1, stderr: "Error: No such file or directory" },
    },
    {
      match: ["nft", "-j", "list", "table", "inet", "odd"],
      reply: { code: 1, stderr: "Error: permission denied" },
    },
    {
      match: ["nft", "-j", "list", "table", "inet", "hostgate"],
      reply: {
        stdout: JSON.stringify({
          nftables: [{ metainfo: { version: "1.0.6" } }, {
            table: { family: "inet", name: "hostgate" },
          }],
        }),
      },
    },
    { match: ["nft", "-j", "list", "table", "inet", "empty"], reply: { stdout: "{}" } },
    { match: ["nft", "-f"], reply: { code: 1, stderr: "Error: Could not process rule\n" } },
  ]);
  const nft = new ExecNft({ exec, timeoutMs: 1_000 });
  assert.equal(await nft.listTable("inet", "gone"), undefined);
  await assert.rejects(
    nft.listTable("inet", "odd"),
    (e: unknown) => e instanceof NftError && /Error: syntax/.test(e.message),
  );
  assert.equal(await nft.listJson("inet", "gone"), undefined);
  await assert.rejects(
    nft.listJson("inet", "odd"),
    /Cannot list nft table inet odd: Error: permission denied/,
  );
  assert.deepEqual(await nft.listJson("inet", "hostgate"), [{
    table: { family: "inet", name: "hostgate" },
  }]);
  assert.deepEqual(await nft.listJson("inet", "empty"), []);
  await assert.rejects(
    nft.apply("table inet x {}\n"),
    /^NftError: Cannot apply nft payload: exit 1: Error: Could not process rule$/,
  );
  assert.equal(exec.calls.at(-1)!.opts.stdin, "table inet x {}\n");
  assert.ok(exec.calls.every((c) => c.opts.timeoutMs === 1_000));
});

Deno.test("ExecConntrack: argv per family; nothing to delete is fine, a failure is not", async () => {
  assert.deepEqual(
    conntrackDeleteArgv({ family: 6, protocol: "udp", origDstPort: 53, origDst: "fd00::1" }),
    [
      "conntrack",
      "-D",
      "-f",
      "ipv6",
      "-p",
      "udp",
      "--orig-port-dst",
      "53",
      "--orig-dst",
      "fd00::1",
    ],
  );
  const exec = new FakeExec([
    {
      reply: {
        code: 1,
        stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n",
      },
      times: 1,
    },
    { reply: { code: 0 }, times: 1 },
    { reply: { code: 2, stderr: "conntrack: Operation not permitted\n" } },
  ]);
  const ct = new ExecConntrack(exec);
  const f = { family: 4 as const, protocol: "udp" as const, origDstPort: 5353 };
  await ct.deleteFlows(f);
  await ct.deleteFlows(f);
  await assert.rejects(
    ct.deleteFlows(f),
    /^Error: Cannot delete conntrack flows: exit 2: conntrack: Operation not permitted$/,
  );
  assert.deepEqual(exec.calls[0]!.argv, [
    "conntrack",
    "-D",
    "-f",
    "ipv4",
    "-p",
    "udp",
    "--orig-port-dst",
    "5353",
  ]);
});
