/**
 * Root-only: `tests/cluster/demo.ts` itself, as `deno task demo` runs it
 * (after `deno task bundle`): a full run prints an all-✓ matrix and leaves
 * nothing; `--keep` leaves a working cluster that `--clean` removes; Ctrl-C
 * (SIGINT) in the middle of the build tears everything down and exits 130.
 * Runs with its own prefix (hgcd) and state file, so a kept user demo
 * ("hgdemo") is never touched.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot, run } from "./helpers/netns.ts";
import { namespacesWith, REPO_ROOT } from "./cluster/cluster.ts";
import { pingOk } from "./cluster/probes.ts";
import { until } from "./helpers/until.ts";

const PREFIX = "hgcd";
const DEMO = `${REPO_ROOT}tests/cluster/demo.ts`;

function demoArgs(stateFile: string, ...extra: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    DEMO,
    `--prefix=${PREFIX}`,
    `--state-file=${stateFile}`,
    ...extra,
  ];
}

async function withStateFile(fn: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hgcd-state-" });
  try {
    await fn(`${dir}/state.json`);
  } finally {
    await run(demoArgs(`${dir}/state.json`, "--clean"));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const opts = { ignore: !isRoot(), sanitizeOps: false, sanitizeResources: false };

for (const mode of ["routed", "bridge"] as const) {
  Deno.test({
    ...opts,
    name: `demo (${mode} pods): 3 nodes x 2 pods, every cell of the matrix reachable, nothing left`,
    fn: () =>
      withStateFile(async (file) => {
        const r = await run(demoArgs(file, `--pod-mode=${mode}`));
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^81\/81 reachable$/m, r.stdout);
        assert.doesNotMatch(r.stdout, /✗/);
        // 9 sources x 9 other columns (8 peers + the outside), the diagonal is "·".
        assert.equal(r.stdout.match(/✓/g)?.length, 81);
        for (const n of ["n1", "n2", "n3"]) {
          const block = r.stdout.split(`  ${n}:\n`)[1]?.split(/\n(?! {4})/)[0]?.split("\n") ?? [];
          assert.equal(
            block.filter((l) => / via 172\.30\.0\.1\d dev eth0( metric \d+)?$/.test(l)).length,
            2,
            `${n}: ${block.join("; ")}`,
          );
          // Routed: one host route per local pod on its veth, no gateway.
          const podRoutes = block.filter((l) => / dev hg[0-9a-f]{12} scope link/.test(l)).length;
          assert.equal(podRoutes, mode === "routed" ? 2 : 0, `${n}: ${block.join("; ")}`);
        }
        assert.deepEqual(await namespacesWith(PREFIX), []);
      }),
  });
}

Deno.test({
  ...opts,
  name: "demo --keep leaves a working cluster, --clean removes all of it",
  fn: () =>
    withStateFile(async (file) => {
      const r = await run(demoArgs(file, "--keep"));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const state = JSON.parse(await Deno.readTextFile(file));
      assert.equal(state.pids.length, 3);
      assert.equal((await namespacesWith(PREFIX)).length, 12);
      // The agents outlived the demo process and pods still talk across nodes.
      const ip = r.stdout.match(/n3\/b\s+pod\s+(\S+)/)![1]!;
      assert.ok(await pingOk(`${PREFIX}-n1-a`, ip), `n1/a cannot reach n3/b ${ip}`);
      for (const p of state.pids) assert.ok((await Deno.stat(`/proc/${p.pid}`)).isDirectory);
      const clean = await run(demoArgs(file, "--clean"));
      assert.equal(clean.code, 0, clean.stderr);
      assert.match(clean.stdout, /removed: 3 process\(es\), 12 namespace\(s\)/);
      assert.deepEqual(await namespacesWith(PREFIX), []);
      await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
      await assert.rejects(Deno.stat(state.dir), Deno.errors.NotFound);
    }),
});

for (
  const [when, netns] of [
    ["the topology is being built", `${PREFIX}-n3`],
    ["pods are being created", `${PREFIX}-n1-a`],
  ]
) {
  Deno.test({
    ...opts,
    name: `demo: SIGINT while ${when} tears everything down, exit 130`,
    fn: () =>
      withStateFile(async (file) => {
        const [cmd, ...args] = demoArgs(file);
        const child = new Deno.Command(cmd!, { args, stdout: "null", stderr: "piped" }).spawn();
        await until(`namespace ${netns}`, async () =>
          (await namespacesWith(PREFIX)).includes(netns!), { ms: 20_000, everyMs: 10 });
        child.kill("SIGINT");
        const out = await child.output();
        const err = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 130, err);
        assert.deepEqual(await namespacesWith(PREFIX), []);
        // A plugin call already spawned when the signal came may finish its last
        // milliseconds after the namespaces are gone; none may stay.
        const left = async () =>
          (await run(["pgrep", "-a", "-f", `${PREFIX}-`])).stdout.trim();
        await until("no process of the demo", async () =>
          await left() === "", {
          ms: 5_000,
          everyMs: 50,
        }).catch(async () => assert.equal(await left(), "", "processes of the demo left"));
      }),
  });
}
