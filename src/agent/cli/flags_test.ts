import assert from "node:assert/strict";
import { FlagError, parseFlags } from "./flags.ts";

const specs = { name: { type: "string" }, json: { type: "boolean" } } as const;

Deno.test("parseFlags: --a=b, --a b, bare booleans, last wins", () => {
  assert.deepEqual(parseFlags(["--name=x", "--json"], specs), { name: "x", json: true });
  assert.deepEqual(parseFlags(["--name", "y"], specs), { name: "y" });
  assert.deepEqual(parseFlags(["--name=a", "--name=b"], specs), { name: "b" });
  assert.deepEqual(parseFlags(["--name="], specs), { name: "" });
  assert.deepEqual(parseFlags(["--name=a=b"], specs), { name: "a=b" });
  assert.deepEqual(parseFlags([], specs), {});
});

Deno.test("parseFlags: refuses what parseArgs refused", () => {
  const bad: [string[], RegExp][] = [
    [["--nope=1"], /Unknown option '--nope'/],
    [["--__proto__=1"], /Unknown option/],
    [["--toString"], /Unknown option/],
    [["positional"], /Unexpected argument/],
    [["-n"], /Unexpected argument/],
    [["--"], /Unexpected argument/],
    [["--json=true"], /does not take an argument/],
    [["--name"], /argument missing/],
    [["--name", "--json"], /argument missing/],
  ];
  for (const [args, re] of bad) {
    assert.throws(
      () => parseFlags(args, specs),
      (e: unknown) => e instanceof FlagError && re.test(e.message),
      args.join(" "),
    );
  }
});
