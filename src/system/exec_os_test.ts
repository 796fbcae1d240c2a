/**
 * RealExec against real processes (/bin/sh with fixed scripts): argv, stdin,
 * environment, working directory, exit codes, and the kill on timeout.
 * @module
 */
import assert from "node:assert/strict";
import { RealExec } from "./exec.ts";

const SH = { permissions: { run: ["/bin/sh"] } };

Deno.test("RealExec: stdin in, stdout and stderr apart, the exit code kept", SH, async () => {
  const r = await new RealExec().run(["/bin/sh", "-c", 'cat; echo "to stderr" >&2; exit 3'], {
    stdin: "from stdin\n",
  });
  assert.deepEqual(r, { code: 3, stdout: "from stdin\n", stderr: "to stderr\n" });
});

Deno.test("RealExec: argv is passed as is; env, clearEnv and cwd apply", SH, async () => {
  const exec = new RealExec();
  const args = await exec.run(["/bin/sh", "-c", 'printf "%s|" "$@"', "sh", "a b", "$HOME", ";"]);
  assert.equal(args.stdout, "a b|$HOME|;|", "no word splitting, no expansion");
  const env = await exec.run(["/bin/sh", "-c", 'echo "$HG_X|$HOME"'], {
    env: { HG_X: "x" },
    clearEnv: true,
    cwd: "/",
  });
  assert.equal(env.stdout, "x|\n", "only the given environment: no HOME");
  assert.equal((await exec.run(["/bin/sh", "-c", "pwd"], { cwd: "/" })).stdout, "/\n");
});

Deno.test("RealExec: a process past its timeout is killed", SH, async () => {
  const r = await new RealExec().run(["/bin/sh", "-c", "exec sleep 30"], { timeoutMs: 50 });
  assert.notEqual(r.code, 0);
});

Deno.test(
  "RealExec: an empty argv is refused before spawning",
  { permissions: "none" },
  async () => {
    await assert.rejects(new RealExec().run([]), /^Error: Cannot run a program: empty argv$/);
  },
);
