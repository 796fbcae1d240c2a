/**
 * Root-only, LONG (about 2.5 min; `HOSTGATE_OUTAGE_SECONDS` and
 * `HOSTGATE_OUTAGE_CYCLES` shorten it locally); part of `deno task
 * integration`. The etcd3 client used to open 5-12 connections each time etcd
 * came back (a gRPC channel per service client, new ones after every
 * recoverable error); the datastore now gives every service client one shared
 * channel per endpoint, and this test measured at most 1 socket throughout.
 * Issue 12's etcd outage on the simulated cluster (two nodes, etcd in the router
 * namespace, started and stopped by this test only). A 60 s outage, then 10
 * cycles of stop/start and SIGSTOP/SIGCONT of etcd, with n1's agent watched
 * throughout:
 * - at most 2 TCP sockets from the agent to etcd at any sample (its fds
 *   matched against its netns's /proc/<pid>/net/tcp, every 200 ms);
 * - the same agent process alive at the end, no crash in its log;
 * - at most one log line per 10 s per kind of warning or datastore error;
 * - hostgate's routes unchanged during every fault;
 * - after the last fault: Ready again, and a node added to etcd routed
 *   (convergence from the watch, not the 30 s resync).
 * Needs `deno task bundle`. Namespace prefix hgeo.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot } from "./helpers/netns.ts";
import { Cluster } from "./cluster/cluster.ts";
import { hostgateRoutes, httpGet } from "./cluster/probes.ts";
import { until } from "./helpers/until.ts";
import { socketsTo } from "./cluster/proc_sampler.ts";

const OUTAGE_MS = Number(Deno.env.get("HOSTGATE_OUTAGE_SECONDS") ?? 60) * 1000;
const CYCLES = Number(Deno.env.get("HOSTGATE_OUTAGE_CYCLES") ?? 10);
const ETCD_PORT = 2379;
const MAX_SOCKETS = 2;
const LOG_EVERY_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Warning/error lines and the datastore's own lines of an agent log, by kind, with times. */
function noisyLines(log: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of log.split("\n")) {
    let ts: string, level: string, msg: string;
    if (line.startsWith("{")) {
      try {
        ({ ts, level, msg } = JSON.parse(line));
      } catch {
        continue;
      }
    } else {
      const m = /^(\S+) (\w+)\s+(.*)$/.exec(line);
      if (!m) continue;
      [ts, level, msg] = [m[1]!, m[2]!.toLowerCase(), m[3]!];
    }
    const fromStore = msg.startsWith("hostgate datastore");
    if (level !== "warn" && level !== "error" && !fromStore) continue;
    if (fromStore && /readable again|connected|back/.test(msg)) continue; // recoveries
    const kind = `${level} ${msg.replace(/^hostgate datastore \w+: /, "").split(/[:;=]/)[0]}`;
    const t = Date.parse(ts);
    if (!Number.isFinite(t)) continue;
    out.set(kind, [...(out.get(kind) ?? []), t]);
  }
  return out;
}

Deno.test({
  name: "etcd outage (long): 2 sockets at most, no crash, quiet logs, routes kept, converges",
  ignore: !isRoot(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const c = await Cluster.start({ prefix: "hgeo", nodes: 2, datastore: "etcd" });
    const ns = c.node("n1").netns;
    const routes = async () =>
      (await hostgateRoutes(ns)).map((r) => `${r.dst} via ${r.gateway ?? "-"}`).sort();
    const ready = async () => (await httpGet(ns, "http://127.0.0.1:9099/readyz")) === "ok\n";
    let sampling = true;
    let maxSockets = 0;
    let lastSockets = 0;
    let samples = 0;
    let sampler: Promise<void> | undefined;
    const mark = (what: string) => console.error(`${new Date().toISOString()} phase: ${what}`);
    let failed = false;
    const step = async (name: string, fn: () => Promise<void>) => {
      mark(name);
      if (!(await t.step(name, fn))) failed = true;
    };
    try {
      await Promise.all(["n1", "n2"].map((n) => c.join(n)));
      await c.waitMesh(["n1", "n2"]);
      await until("n1 ready", ready);
      const before = await routes();
      assert.equal(before.length, 1, `n1 routes n2: ${before.join("; ")}`);
      const pid = c.agents.get("n1")!.pid;
      const logStart = (await Deno.readTextFile(c.dirs("n1").agentLog)).length;
      sampler = (async () => {
        while (sampling) {
          const n = await socketsTo(pid, ETCD_PORT).catch(() => 0);
          if (n !== lastSockets) console.error(`${new Date().toISOString()} sockets to etcd: ${n}`);
          lastSockets = n;
          maxSockets = Math.max(maxSockets, n);
          samples++;
          await sleep(200);
        }
      })();
      const etcd = () => c.backend.procs()[0]!.pid;

      await step(`etcd stopped ${OUTAGE_MS / 1000} s: routes kept`, async () => {
        await c.backend.stopServer!();
        try {
          await until("n1 not ready", async () => !(await ready()));
          const end = Date.now() + OUTAGE_MS;
          while (Date.now() < end) {
            assert.deepEqual(await routes(), before, "no route deleted during the outage");
            await sleep(2_000);
          }
        } finally {
          await c.backend.startServer!();
        }
        await until("n1 ready again", ready, { ms: 20_000 });
      });

      await step(`${CYCLES} stop/start and freeze/thaw cycles`, async () => {
        for (let i = 0; i < CYCLES; i++) {
          mark(`cycle ${i + 1}: stop`);
          await c.backend.stopServer!();
          try {
            await sleep(2_000);
            assert.deepEqual(await routes(), before, `cycle ${i + 1}: stopped`);
          } finally {
            await c.backend.startServer!();
          }
          await sleep(1_000);
          const p = etcd();
          mark(`cycle ${i + 1}: freeze`);
          Deno.kill(p, "SIGSTOP");
          try {
            await sleep(2_000);
            assert.deepEqual(await routes(), before, `cycle ${i + 1}: frozen`);
          } finally {
            Deno.kill(p, "SIGCONT");
          }
          await sleep(1_000);
        }
      });

      await step("after: ready, and a new node is routed", async () => {
        await until("n1 ready again", ready, { ms: 20_000 });
        assert.deepEqual(await routes(), before);
        await c.backend.putRaw!("/hostgate/subnets/10.244.200.0/24", "late");
        await c.backend.putRaw!(
          "/hostgate/nodes/late",
          JSON.stringify({
            name: "late",
            podCidrs: ["10.244.200.0/24"],
            addresses: [c.node("n2").ip],
          }),
        );
        await until(
          "the late node's route",
          async () => (await routes()).some((r) => r.startsWith("10.244.200.0/24")),
        );
      });

      sampling = false;
      await sampler;
      await step("the agent: alive, at most 2 sockets, one line per 10 s per kind", async () => {
        assert.equal(c.agents.get("n1")!.pid, pid);
        assert.ok(await Deno.stat(`/proc/${pid}`).then(() => true, () => false), "agent alive");
        const log = (await Deno.readTextFile(c.dirs("n1").agentLog)).slice(logStart);
        assert.doesNotMatch(log, /panic|Segmentation fault|SIGSEGV|uncaught/i);
        assert.ok(samples > 100, `${samples} socket samples`);
        const kinds = noisyLines(log);
        const report = [...kinds].map(([k, ts]) => `${k} x${ts.length}`).join("; ");
        console.error(`etcd outage: max ${maxSockets} sockets over ${samples} samples; ${report}`);
        for (const [kind, times] of kinds) {
          for (let i = 1; i < times.length; i++) {
            assert.ok(
              times[i]! - times[i - 1]! >= LOG_EVERY_MS - 100,
              `"${kind}" logged twice within ${times[i]! - times[i - 1]!} ms`,
            );
          }
        }
        assert.ok(maxSockets <= MAX_SOCKETS, `${maxSockets} sockets to etcd at once`);
      });
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      if (failed) {
        await Deno.copyFile(c.dirs("n1").agentLog, "/tmp/hgeo-n1-agent.log").catch(() => {});
        console.error(await c.agentLogs(40));
      }
      sampling = false;
      await sampler;
      await c.teardown();
    }
  },
});
