/**
 * The `just kind-smoke` recipe without Docker or kind: it must exist, and its
 * script must refuse plainly (exit 2, "NOTHING WAS BUILT OR TESTED") and run
 * no tool when one is missing or the Docker daemon is down. The route checks
 * it uses in a real cluster are checked on fixed `ip route` output.
 * @module
 */
import assert from "node:assert/strict";
import { parseRoutes, routeProblems } from "../deploy/kind/pure.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const read = (path: string) => Deno.readTextFileSync(`${ROOT}${path}`);

Deno.test("kind-smoke", async (t) => {
  const recipe = /^kind-smoke[^\n]*:\n((?:[ \t]+\S[^\n]*\n?)+)/m.exec(read("justfile"));
  await t.step("the justfile has a kind-smoke recipe running deploy/kind/smoke.ts", () => {
    assert.ok(recipe, "no kind-smoke recipe in the justfile");
    assert.match(recipe[1]!, /deploy\/kind\/smoke\.ts/);
    for (const r of ["ci", "ok", "bench", "demo"]) {
      assert.match(read("justfile"), new RegExp(`^${r}:`, "m"));
    }
  });
  // The recipe's own command line, with {{deno}} resolved, run with a PATH we control.
  const argv = recipe![1]!.trim().replace("{{deno}}", Deno.execPath()).replace("{{ARGS}}", "")
    .split(/\s+/).filter((a) => a !== "");
  const runWith = async (fakes: Record<string, string>) => {
    const dir = await Deno.makeTempDir({ prefix: "hostgate-smoke-" });
    try {
      for (const [name, body] of Object.entries(fakes)) {
        await Deno.writeTextFile(
          `${dir}/${name}`,
          `#!/bin/sh\necho "${name} $*" >> ${dir}/calls\n${body}\n`,
          {
            mode: 0o755,
          },
        );
      }
      const out = await new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        cwd: ROOT,
        env: { PATH: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      let calls = "";
      try {
        calls = await Deno.readTextFile(`${dir}/calls`);
      } catch { /* none */ }
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr), calls };
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };

  await t.step(
    "without docker and kind it says so and exits non-zero, testing nothing",
    async () => {
      const r = await runWith({});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /docker, kind, kubectl not found on PATH/);
      assert.match(r.stderr, /NOTHING WAS BUILT OR TESTED/);
    },
  );

  await t.step("with docker but without kind it names kind and runs nothing", async () => {
    const r = await runWith({ docker: "exit 0", kubectl: "exit 0" });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /: kind not found on PATH/);
    assert.equal(r.calls, "", "no tool may run before every tool is there");
  });

  await t.step("with a Docker daemon down it says so and builds nothing", async () => {
    const r = await runWith({
      docker: 'echo "Cannot connect to the Docker daemon" >&2; exit 1',
      kind: "exit 0",
      kubectl: "exit 0",
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Docker daemon is not reachable.*Cannot connect/);
    assert.equal(r.calls.trim(), "docker info --format {{.ServerVersion}}");
  });

  await t.step("route checks find a missing and a wrong peer route", () => {
    const nodes = [
      { name: "a", podCidrs: ["10.244.0.0/24"], internalIps: ["172.18.0.2"] },
      { name: "b", podCidrs: ["10.244.1.0/24"], internalIps: ["172.18.0.3"] },
      { name: "c", podCidrs: ["10.244.2.0/24"], internalIps: ["172.18.0.4"] },
    ];
    const good = parseRoutes(
      "10.244.1.0/24 via 172.18.0.3 dev eth0\n10.244.2.0/24 via 172.18.0.4 dev eth0 onlink\n",
    );
    assert.deepEqual(routeProblems("a", nodes, good), []);
    assert.deepEqual(routeProblems("a", nodes, good.slice(0, 1)), [
      "a: no route to c's 10.244.2.0/24",
    ]);
    const wrong = parseRoutes(
      "10.244.1.0/24 via 172.18.0.9 dev eth0\n10.244.2.0/24 via 172.18.0.4",
    );
    assert.deepEqual(routeProblems("a", nodes, wrong), [
      "a: route to 10.244.1.0/24 via 172.18.0.9, not b",
    ]);
  });
});
