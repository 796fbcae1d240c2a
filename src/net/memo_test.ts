import assert from "node:assert/strict";
import { addressOf, ParseMemo, tryParseIp } from "./address.ts";

Deno.test("ParseMemo: parses each text once while it fits; when full the oldest half goes", () => {
  const parsed: string[] = [];
  const memo = new ParseMemo<{ n: number }>(4);
  const parse = (t: string) => {
    parsed.push(t);
    return t === "bad" ? undefined : { n: t.length };
  };
  for (const t of ["a", "bb", "bad", "a", "bb", "bad"]) memo.get(t, parse);
  assert.deepEqual(parsed, ["a", "bb", "bad"], "failures are remembered too");
  const v = memo.get("a", parse)!;
  assert.ok(Object.isFrozen(v), "shared results are frozen");
  memo.get("dddd", parse); // 4 entries: full
  memo.get("eeeee", parse); // drops "a" and "bb", the oldest half
  parsed.length = 0;
  for (const t of ["bad", "dddd", "eeeee", "a", "bb"]) memo.get(t, parse);
  assert.deepEqual(parsed, ["a", "bb"]);
  assert.deepEqual(memo.get("bb", parse), { n: 2 });
});

Deno.test("address parsers refuse what is not a string", () => {
  // deno-lint-ignore no-explicit-any
  const notText = 167772161 as any;
  assert.equal(tryParseIp(notText), undefined);
  assert.throws(() => addressOf(notText), /Cannot parse IP address/);
});
