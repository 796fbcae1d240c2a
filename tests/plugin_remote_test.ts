/**
 * Root-only: pods made through the agent's plugin socket (`--plugin-socket`,
 * src/plugin/remote/) on the simulated cluster (file datastore, 2 nodes):
 * the conflist names the socket, calls are counted by the agent, pods ping;
 * with the agent killed (its socket file left behind) the plugin runs the
 * calls itself, including DEL of a pod the agent made; a restarted agent
 * takes over again; garbage on the socket changes nothing; 12 parallel ADDs
 * through the agent get 12 addresses. Teardown leaves no IP file.
 * Needs `deno task bundle`. Namespace prefix hgpr.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot } from "./helpers/netns.ts";
import { Cluster } from "./cluster/cluster.ts";
import { httpGet, pingOk } from "./cluster/probes.ts";
import { until } from "./helpers/until.ts";

/** hostgate_plugin_calls_total{command,outcome} of a node's agent. */
async function calls(netns: string, command: string, outcome = "ok"): Promise<number> {
  const text = await httpGet(netns, "http://127.0.0.1:9099/metrics") ?? "";
  const re = new RegExp(
    `^hostgate_plugin_calls_total\\{command="${command}",outcome="${outcome}"\\} (\\d+)$`,
    "m",
  );
  return Number(text.match(re)?.[1] ?? 0);
}

Deno.test({
  name: "plugin calls served by the agent, and by the plugin while the agent is down",
  ignore: !isRoot(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const c = await Cluster.start({ prefix: "hgpr", nodes: 2, datastore: "file" });
    try {
      await c.join("n1");
      await c.join("n2");
      await c.waitMesh(["n1", "n2"]);
      const n1 = c.node("n1").netns;
      const sock = c.dirs("n1").socket;
      await until(
        "n1's plugin socket",
        async () => (await Deno.lstat(sock).catch(() => null))?.isSocket || undefined,
      );

      await t.step("the conflist names the agent's socket, root-only", async () => {
        const conf = JSON.parse(
          await Deno.readTextFile(`${c.dirs("n1").conf}/10-hostgate.conflist`),
        );
        assert.equal(conf.plugins[0].agentSocket, sock);
        assert.equal((await Deno.stat(sock)).mode! & 0o777, 0o600);
      });

      const a = await c.addPod("n1", "a");
      const b = await c.addPod("n2", "b");
      await t.step(
        "pods made by the agents ping across nodes; the agents counted the ADDs",
        async () => {
          assert.equal(await calls(n1, "ADD"), 1);
          assert.equal(await calls(c.node("n2").netns, "ADD"), 1);
          assert.ok(await pingOk(a.netns, b.ip), "n1/a -> n2/b");
          assert.ok(await pingOk(b.netns, a.ip), "n2/b -> n1/a");
        },
      );

      await c.stopAgent("n1", "SIGKILL");
      let made: Awaited<ReturnType<Cluster["addPod"]>>;
      await t.step(
        "agent killed, socket left behind: the plugin runs ADD and DEL itself",
        async () => {
          assert.equal((await Deno.lstat(sock)).isSocket, true, "a stale socket file stays");
          made = await c.addPod("n1", "c");
          assert.ok(await pingOk(made.netns, b.ip), "n1/c (made without the agent) -> n2/b");
          // DEL of a pod the agent made, by the plugin alone: its IP file goes.
          const before = await c.ipamFiles("n1");
          assert.ok(before.includes(a.ip), `a's IP file ${a.ip} in ${before}`);
          await c.delPod(a);
          assert.ok(!(await c.ipamFiles("n1")).includes(a.ip), "a's IP freed without the agent");
        },
      );

      await c.startAgent("n1");
      await t.step(
        "a restarted agent replaces the stale socket and takes the calls again",
        async () => {
          await until("n1's socket accepts", async () => {
            try {
              (await Deno.connect({ transport: "unix", path: sock })).close();
              return true;
            } catch {
              return undefined;
            }
          });
          await c.delPod(made!);
          assert.equal(await calls(n1, "DEL"), 1, "the DEL went through the new agent");
        },
      );

      await t.step("garbage on the socket: dropped, counted, the next pod is fine", async () => {
        const dropped = await calls(n1, "", "dropped");
        const conn = await Deno.connect({ transport: "unix", path: sock });
        await conn.write(new Uint8Array([0, 0, 0, 4, 0x6e, 0x75, 0x6c, 0x6c])); // "null"
        assert.equal(await conn.read(new Uint8Array(8)).catch(() => null), null);
        conn.close();
        await until(
          "the drop is counted",
          async () => (await calls(n1, "", "dropped")) === dropped + 1 || undefined,
        );
        const d = await c.addPod("n1", "d");
        assert.ok(await pingOk(d.netns, b.ip), "n1/d -> n2/b");
        await c.delPod(d);
      });

      await t.step(
        "12 parallel ADDs through the agent: 12 distinct addresses, all reachable",
        async () => {
          const before = await calls(n1, "ADD");
          const pods = await Promise.all(
            Array.from({ length: 12 }, (_, i) => c.addPod("n1", `p${i}`)),
          );
          assert.equal(await calls(n1, "ADD") - before, 12);
          assert.equal(new Set(pods.map((p) => p.ip)).size, 12);
          for (const p of pods) assert.ok(await pingOk(b.netns, p.ip), `n2/b -> ${p.label}`);
          await Promise.all(pods.map((p) => c.delPod(p)));
        },
      );

      await t.step("every pod gone: n1's IPAM holds no address", async () => {
        assert.deepEqual(await c.ipamFiles("n1"), []);
      });
    } finally {
      const leaks = await c.teardown();
      assert.deepEqual(leaks, []);
    }
  },
});
