/**
 * Idle cost of the agent (issue 12): one agent alone in a namespace on the
 * file datastore holding `peers` other nodes (on-link host-gateway routes),
 * left alone for `seconds` after it has converged; its CPU (user + system
 * from /proc, 10 ms ticks) as a share of one core. Rows per firewall
 * backend, so the iptables-legacy fingerprint poll shows beside the
 * notification-driven backends. `--agent` runs another bundle (a "before").
 *
 *     deno run -A bench/agent_idle.ts --peers=1000 --seconds=60
 * @module
 */
import { parseArgs } from "node:util";
import { writeNodeEntry } from "../src/datastore/file/mod.ts";
import { withNetns } from "../tests/helpers/netns.ts";
import { AGENT_BIN, cpuMsOf, dirsOf, sleep, startAgent, tail } from "./agent_bench_util.ts";
import { fmt, table } from "./table.ts";

/** Options of `idleBench`. */
export interface IdleOptions {
  peers?: number;
  seconds?: number;
  backends?: string[];
  /** The agent bundle (default: this tree's). */
  agent?: string;
}

/** The node's uplink segment; peers are on-link there. */
const PEER_IP = (i: number) => `172.20.${1 + (i >> 7)}.${(i & 127) + 1}`;

/** Measures and renders the table. */
export async function idleBench(o: IdleOptions = {}): Promise<string> {
  const peers = o.peers ?? 1000;
  const seconds = o.seconds ?? 60;
  const backends = o.backends ?? ["nftables", "iptables-legacy"];
  const rows: string[][] = [];
  for (const backend of backends) {
    const pct = await withNetns("hgidle", async (ns) => {
      const tmp = await Deno.makeTempDir({ prefix: "hostgate-bench-idle-" });
      try {
        const node = await ns.add("self");
        await ns.sh(node, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"]);
        await ns.sh(node, ["ip", "addr", "add", "172.20.0.1/16", "dev", "eth0"]);
        await ns.sh(node, ["ip", "link", "set", "eth0", "up"]);
        await ns.sh(node, ["ip", "link", "set", "eth0p", "up"]);
        const store = { dir: `${tmp}/store` };
        for (let i = 0; i < peers; i++) {
          await writeNodeEntry({
            name: `peer-${i}`,
            podCidrs: [`10.${128 + (i >> 8)}.${i & 255}.0/24`],
            addresses: [PEER_IP(i)],
          }, store);
        }
        const agent = await startAgent(
          node,
          [
            "--datastore=file",
            `--store-dir=${store.dir}`,
            "--node-name=self",
            "--iface=eth0",
            "--cluster-cidr=10.128.0.0/9",
            `--firewall-backend=${backend}`,
            "--health-addr=",
            ...dirsOf(tmp, "self"),
          ],
          `${tmp}/self.log`,
          { bin: o.agent },
        );
        try {
          const routes = async () =>
            (await ns.sh(node, ["ip", "route", "show", "proto", "151"])).split("\n")
              .filter((l) => l.trim()).length;
          const end = performance.now() + 120_000;
          while ((await routes()) < peers) {
            if (agent.exited() || performance.now() > end) {
              throw new Error(
                `Cannot converge: ${await routes()} routes\n${await tail(agent.logPath)}`,
              );
            }
            await sleep(200);
          }
          await sleep(3_000); // the first passes' echoes settle
          const pid = agent.child.pid;
          const c0 = await cpuMsOf(pid);
          await sleep(seconds * 1000);
          const used = await cpuMsOf(pid) - c0;
          return (used / (seconds * 1000)) * 100;
        } finally {
          await agent.stop();
        }
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    });
    rows.push([backend, String(peers), String(seconds), fmt(pct, 2)]);
  }
  return `idle agent, file datastore (${o.agent ?? AGENT_BIN})\n` +
    table(["firewall backend", "peers", "seconds", "CPU % of a core"], rows);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      peers: { type: "string" },
      seconds: { type: "string" },
      backends: { type: "string" },
      agent: { type: "string" },
    },
  });
  console.log(
    await idleBench({
      peers: values.peers ? Number(values.peers) : undefined,
      seconds: values.seconds ? Number(values.seconds) : undefined,
      backends: values.backends?.split(","),
      agent: values.agent,
    }),
  );
}
