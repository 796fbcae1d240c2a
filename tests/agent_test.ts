/**
 * Root-only: three node namespaces on one L2 switch, `hostgate-agent run`
 * (the bundle) inside each against the file datastore, and the kernel
 * checked after node add, node delete, IP change, kill -9 and restart, and a
 * route deleted by hand. Needs `deno task bundle` first. Namespace prefix
 * "hgag"; every agent is killed and every namespace deleted in finally.
 * @module
 */
import assert from "node:assert/strict";
import { until } from "./helpers/until.ts";
import { isRoot, type NetnsSet, run, sh, withNetns } from "./helpers/netns.ts";
import { addSwitch, plug } from "./helpers/switch.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const AGENT = `${ROOT}dist/bundle/hostgate-agent`;
const PLUGIN = `${ROOT}dist/bundle/hostgate`;
const NODES = ["n1", "n2", "n3"] as const;
const IP: Record<string, string> = {
  n1: "192.168.100.1",
  n2: "192.168.100.2",
  n3: "192.168.100.3",
};

interface Agent {
  child: Deno.ChildProcess;
  log: string;
  done: Promise<Deno.CommandStatus>;
}

/** How this suite waits (`until`): one agent per namespace converges within seconds. */
const AGENT_WAIT = { ms: 8000, everyMs: 100 };

Deno.test({
  name: "agent: routes and rules follow node add, delete, IP change, kill -9, manual deletion",
  ignore: !isRoot(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await Deno.stat(AGENT).catch(() => {
      throw new Error(`Cannot run the agent test: ${AGENT} missing (run deno task bundle)`);
    });
    const tmp = await Deno.makeTempDir({ prefix: "hgag-" });
    let lastReadyz = "";
    const agents = new Map<string, Agent>();
    const ns = (n: string) => `hgag-${n}`;

    const start = async (n: string): Promise<Agent> => {
      const log = `${tmp}/${n}.log`;
      const child = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          ns(n),
          AGENT,
          "run",
          `--node-name=${n}`,
          "--datastore=file",
          `--store-dir=${tmp}/store`,
          "--cluster-cidr=10.244.0.0/16",
          `--cni-bin-dir=${tmp}/${n}/bin`,
          `--cni-conf-dir=${tmp}/${n}/conf`,
          `--ipam-dir=${tmp}/${n}/ipam`,
          `--plugin-src=${PLUGIN}`,
          "--resync-interval=60s",
          "--health-addr=127.0.0.1:9099",
          "--log-level=debug",
          // The peers' bridge gateways are what this test pings across the routes.
          "--pod-mode=bridge",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // stderr (the agent's log) to a file, without holding the test on it.
      const errFile = await Deno.open(log, { write: true, create: true, append: true });
      child.stderr.pipeTo(errFile.writable).catch(() => {});
      const a = { child, log, done: child.status };
      agents.set(n, a);
      return a;
    };
    const kill = async (n: string, signal: Deno.Signal) => {
      const a = agents.get(n);
      if (!a) return;
      try {
        a.child.kill(signal);
      } catch {
        // already gone
      }
      await a.done;
      agents.delete(n);
    };
    const routes = async (n: string): Promise<string[]> => {
      const out = await sh(["ip", "-n", ns(n), "-j", "route", "show", "proto", "151"]);
      const list = JSON.parse(out || "[]") as { dst: string; gateway?: string }[];
      return list.map((r) => `${r.dst} via ${r.gateway}`).sort();
    };
    const save = async (n: string): Promise<string> =>
      (await run(["ip", "netns", "exec", ns(n), "iptables-nft-save"])).stdout +
      (await run(["ip", "netns", "exec", ns(n), "iptables-legacy-save"])).stdout;
    const subnetOf = async (n: string): Promise<string> => {
      const entry = JSON.parse(await Deno.readTextFile(`${tmp}/store/nodes/${n}.json`));
      return entry.podCidrs[0];
    };
    const readyz = async (n: string): Promise<boolean> => {
      const url = "http://127.0.0.1:9099/readyz";
      const r = await run(["ip", "netns", "exec", ns(n), "curl", "-s", "-m", "2", url]);
      lastReadyz = `${n}: ${r.stdout}${r.stderr}`;
      return r.stdout === "ok\n";
    };
    const expected = async (self: string, present: string[]) =>
      (await Promise.all(
        present.filter((p) => p !== self).map(async (p) =>
          `${await subnetOf(p)} via ${p === "n2" && IP.n2 !== "192.168.100.2" ? IP.n2 : IP[p]}`
        ),
      )).sort();

    try {
      await withNetns("hgag", async (set: NetnsSet) => {
        const sw = await addSwitch(set);
        for (const n of NODES) {
          await set.add(n);
          await plug({ sw, netns: ns(n), ifname: "eth0", port: `p-${n}`, cidr: `${IP[n]}/24` });
        }

        // 1. Nodes join one after another: every agent routes to every other node.
        for (const n of NODES) await start(n);
        for (const n of NODES) {
          await until(`${n} routes to both peers`, async () => {
            const have = await routes(n);
            return have.length === 2 &&
              JSON.stringify(have) === JSON.stringify(await expected(n, [...NODES]));
          }, AGENT_WAIT);
          await until(`${n} ready`, async () => await readyz(n) || undefined, AGENT_WAIT);
          const rules = await save(n);
          assert.equal(rules.match(/-A FORWARD .*-j HOSTGATE-FWD/g)?.length, 1, rules);
          assert.equal(rules.match(/-A POSTROUTING .*-j HOSTGATE-POSTRTG/g)?.length, 1, rules);
          assert.match(
            rules,
            /-A HOSTGATE-POSTRTG -s 10\.244\.0\.0\/16 ! -d 10\.244\.0\.0\/16 -m addrtype ! --dst-type LOCAL/,
          );
          const conf = JSON.parse(await Deno.readTextFile(`${tmp}/${n}/conf/10-hostgate.conflist`));
          assert.deepEqual(conf.plugins[0].ipam.ranges, [[{ subnet: await subnetOf(n) }]]);
          assert.equal(conf.plugins[0].ipam.dataDir, `${tmp}/${n}/ipam`);
          assert.equal((await Deno.stat(`${tmp}/${n}/bin/hostgate`)).mode! & 0o777, 0o755);
          assert.equal(
            (await sh(["ip", "netns", "exec", ns(n), "sysctl", "-n", "net.ipv4.ip_forward"]))
              .trim(),
            "1",
          );
        }
        // Real traffic over the routes: n1 reaches n2's pod gateway through n2's node IP.
        const gw2 = (await subnetOf("n2")).replace(/0\/24$/, "1");
        await sh(["ip", "netns", "exec", ns("n1"), "ping", "-c1", "-W2", gw2]);

        // 2. Node deleted from the datastore: its routes vanish on the others.
        const sub3 = await subnetOf("n3");
        await kill("n3", "SIGTERM");
        await Deno.remove(`${tmp}/store/nodes/n3.json`);
        for (const n of ["n1", "n2"]) {
          await until(
            `${n} drops n3's route`,
            async () => !(await routes(n)).some((r) => r.startsWith(sub3)),
            AGENT_WAIT,
          );
        }

        // 3. IP change: n2's agent re-registers, n1's route follows (replaced, not re-added).
        // Delete first: deleting a primary address also drops its secondaries.
        await sh(["ip", "-n", ns("n2"), "addr", "del", "192.168.100.2/24", "dev", "eth0"]);
        await sh(["ip", "-n", ns("n2"), "addr", "add", "192.168.100.22/24", "dev", "eth0"]);
        IP.n2 = "192.168.100.22";
        const sub2 = await subnetOf("n2");
        await until(
          "n1 routes n2's subnet via its new IP",
          async () => (await routes("n1")).includes(`${sub2} via 192.168.100.22`),
          AGENT_WAIT,
        );
        await until(
          "n2 still routes to n1",
          async () => (await routes("n2")).length === 1,
          AGENT_WAIT,
        );

        // 4. kill -9 and restart of n1: same routes, no flap, one jump per chain.
        const before = await routes("n1");
        const monitor = new Deno.Command("ip", {
          args: ["-n", ns("n1"), "monitor", "route"],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        try {
          await kill("n1", "SIGKILL");
          await start("n1");
          await until(
            "n1 ready after restart",
            async () => await readyz("n1") || undefined,
            AGENT_WAIT,
          );
        } finally {
          monitor.kill("SIGTERM");
        }
        const events = new TextDecoder().decode((await monitor.output()).stdout);
        assert.deepEqual(await routes("n1"), before);
        assert.doesNotMatch(events, /10\.244\./, `routes flapped during the restart:\n${events}`);
        const rules = await save("n1");
        assert.equal(rules.match(/-j HOSTGATE-FWD/g)?.length, 1, rules);
        assert.equal(rules.match(/-j HOSTGATE-POSTRTG/g)?.length, 1, rules);

        // 5. A route deleted by hand comes back through the route monitor (resync is 60 s).
        await sh(["ip", "-n", ns("n1"), "route", "del", sub2]);
        const t0 = Date.now();
        await until(
          "n1's route repaired",
          async () => (await routes("n1")).includes(`${sub2} via 192.168.100.22`),
          3000,
        );
        assert.ok(Date.now() - t0 < 3000);

        // 6. status: a table with the peer route present, exit 0.
        const st = await run([
          "ip",
          "netns",
          "exec",
          ns("n1"),
          AGENT,
          "status",
          "--node-name=n1",
          "--datastore=file",
          `--store-dir=${tmp}/store`,
          `--cni-conf-dir=${tmp}/n1/conf`,
          `--ipam-dir=${tmp}/n1/ipam`,
          "--pod-mode=bridge",
          "--timeout=5s",
        ]);
        assert.equal(st.code, 0, st.stdout + st.stderr);
        assert.match(st.stdout, /n2\s+ipv4\s+192\.168\.100\.22\s+\S+\s+host-gw\s+present/);
        assert.match(st.stdout, /rules:\s+present/);

        // 7. uninstall: no hostgate route, chain, jump or conflist is left.
        await kill("n1", "SIGTERM");
        const un = await run([
          "ip",
          "netns",
          "exec",
          ns("n1"),
          AGENT,
          "uninstall",
          "--node-name=n1",
          `--cni-conf-dir=${tmp}/n1/conf`,
        ]);
        assert.equal(un.code, 0, un.stderr);
        assert.deepEqual(await routes("n1"), []);
        assert.doesNotMatch(await save("n1"), /HOSTGATE/);
        await assert.rejects(Deno.stat(`${tmp}/n1/conf/10-hostgate.conflist`));
      });
    } catch (e) {
      for (const n of [...agents.keys()]) await kill(n, "SIGTERM");
      for (const n of NODES) {
        const text = await Deno.readTextFile(`${tmp}/${n}.log`).catch(() => "");
        console.error(`--- agent ${n} log ---\n${text.split("\n").slice(-40).join("\n")}`);
      }
      console.error(`last readyz: ${lastReadyz}`);
      throw e;
    } finally {
      for (const n of [...agents.keys()]) await kill(n, "SIGKILL");
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
