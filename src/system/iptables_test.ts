import assert from "node:assert/strict";
import { FakeExec } from "./fake_exec.ts";
import { FakeIptables } from "./fake_iptables.ts";
import {
  countRuleLines,
  detectIptablesMode,
  ExecIptables,
  IptablesError,
  parseSave,
  ruleKey,
  tokenize,
} from "./iptables.ts";
import { ExecNft, parseNftTable } from "./nft.ts";

Deno.test("tokenize/ruleKey: quotes and escapes do not change a rule's identity", () => {
  assert.deepEqual(tokenize('-m comment --comment "a b \\"c\\"" -j X'), [
    "-m",
    "comment",
    "--comment",
    'a b "c"',
    "-j",
    "X",
  ]);
  assert.equal(ruleKey('-m comment --comment "x" -j A'), ruleKey("-m comment --comment x -j A"));
  assert.notEqual(ruleKey("-s 10.0.0.0/8 -j A"), ruleKey("-d 10.0.0.0/8 -j A"));
});

Deno.test("parseSave: tables, chains with policies, rules per chain in order", () => {
  const t = parseSave(`# Generated
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [12:34]
:MINE - [0:0]
-A FORWARD -j MINE
-A MINE -s 10.0.0.0/8 -j ACCEPT
-A MINE -j RETURN
COMMIT
`);
  const f = t.get("filter")!;
  assert.equal(f.chains.get("FORWARD"), "DROP");
  assert.equal(f.chains.get("MINE"), "-");
  assert.deepEqual(f.rules.get("MINE"), ["-s 10.0.0.0/8 -j ACCEPT", "-j RETURN"]);
  assert.deepEqual(f.rules.get("INPUT"), []);
  assert.equal(countRuleLines("-A X\n-A Y\n:Z\n"), 2);
});

Deno.test("ExecIptables: argv of save and restore (wait, noflush, payload on stdin)", async () => {
  const exec = new FakeExec([
    { match: ["ip6tables-legacy-save"], reply: { code: 0, stdout: "*filter\nCOMMIT\n" } },
    { match: ["ip6tables-legacy-restore"], reply: { code: 0 } },
    { match: ["iptables-nft-restore"], reply: { code: 2, stderr: "line 3 failed" } },
  ]);
  const v6 = new ExecIptables({ exec, family: 6, mode: "legacy", lockWaitSeconds: 7 });
  assert.equal(await v6.save(), "*filter\nCOMMIT\n");
  await v6.restore("*filter\nCOMMIT\n");
  assert.deepEqual(exec.calls[1]!.argv, ["ip6tables-legacy-restore", "-w", "7", "--noflush"]);
  assert.equal(exec.calls[1]!.opts.stdin, "*filter\nCOMMIT\n");
  const v4 = new ExecIptables({ exec, family: 4, mode: "nft" });
  await assert.rejects(
    v4.restore("x"),
    (e) => e instanceof IptablesError && /line 3 failed/.test(e.message),
  );
});

Deno.test("detect: the flavour holding more rules wins, a tie goes to nft", async () => {
  const save = (n: number) => ({
    code: 0,
    stdout: "*filter\n" + "-A FORWARD -j X\n".repeat(n) + "COMMIT\n",
  });
  const legacyBusy = new FakeExec([
    { match: (c) => c.argv[0]!.includes("legacy"), reply: save(12) },
    { match: (c) => c.argv[0]!.includes("nft"), reply: save(3) },
  ]);
  assert.equal(await detectIptablesMode(legacyBusy), "legacy");
  const fresh = new FakeExec([{ reply: save(0) }]);
  assert.equal(await detectIptablesMode(fresh), "nft");
  // Programs missing altogether: still an answer, not a crash.
  assert.equal(await detectIptablesMode(new FakeExec()), "nft");
});

Deno.test("FakeIptables: --noflush semantics, atomic tables, faults", async () => {
  const ipt = new FakeIptables();
  ipt.command("filter", ["-A", "FORWARD", "-j", "DROP"]);
  await ipt.restore("*filter\n:MINE - [0:0]\n-A MINE -j ACCEPT\n-I FORWARD 1 -j MINE\nCOMMIT\n");
  assert.deepEqual(ipt.rules("filter", "FORWARD"), ["-j MINE", "-j DROP"]);
  // Redeclaring a user chain flushes it; builtin chains keep their rules.
  await ipt.restore("*filter\n:MINE - [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n");
  assert.deepEqual(ipt.rules("filter", "MINE"), []);
  assert.equal(ipt.rules("filter", "FORWARD")!.length, 2);
  // A bad line fails the whole table: nothing of it is applied.
  await assert.rejects(
    ipt.restore("*filter\n-A MINE -j ACCEPT\n-D FORWARD -j NOPE\nCOMMIT\n"),
    /line 3/,
  );
  assert.deepEqual(ipt.rules("filter", "MINE"), []);
  await assert.rejects(ipt.restore("*filter\n-X MINE\nCOMMIT\n"), /referenced/);
  ipt.failNextSave();
  await assert.rejects(ipt.save(), /injected/);
  assert.match(await ipt.save(), /-A FORWARD -j MINE/);
});

Deno.test("ExecNft: a missing table is undefined, other failures throw", async () => {
  const exec = new FakeExec([
    {
      match: ["nft", "list", "table", "inet", "gone"],
      reply: { code: 1, stderr: "Error: No such file or directory" },
    },
    { match: ["nft", "list"], reply: { code: 1, stderr: "Operation not permitted" } },
    { match: ["nft", "-f", "-"], reply: { code: 0 } },
  ]);
  const nft = new ExecNft({ exec });
  assert.equal(await nft.listTable("inet", "gone"), undefined);
  await assert.rejects(nft.listTable("inet", "x"), /Operation not permitted/);
  await nft.apply("table inet x\n");
  assert.equal(exec.calls.at(-1)!.opts.stdin, "table inet x\n");
});

Deno.test("parseNftTable: chains with header and rule lines", () => {
  const t = parseNftTable(`table inet hostgate {
\tchain A {
\t\ttype filter hook forward priority filter; policy accept;
\t\tip saddr 10.0.0.0/8 accept comment "x"
\t}

\tchain B {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t}
}
`);
  assert.equal(
    t.chains.get("A")!.header,
    "type filter hook forward priority filter; policy accept;",
  );
  assert.deepEqual(t.chains.get("A")!.rules, ['ip saddr 10.0.0.0/8 accept comment "x"']);
  assert.deepEqual(t.chains.get("B")!.rules, []);
});
