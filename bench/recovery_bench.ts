/**
 * Recovery benchmark (issue 12): how fast the agents notice a datastore
 * fault and its end, how fast they repair what was changed by hand, and what
 * an etcd outage costs them. On a simulated two-node cluster (tests/cluster/)
 * per datastore, each figure over `rounds` faults (p50/p99):
 *
 * - /readyz 503 after the nodes/ folder goes (file) or etcd stops / freezes,
 *   and 200 after it is back (target: 2 s both ways);
 * - convergence after recovery: a node added during the outage is routed;
 * - an address change announced: the peer's route follows the new node IP;
 * - repair per object class: route, conflist, plugin binary, ip_forward,
 *   rule chain (target 1 s; the chain flushed by hand is seen through the
 *   firewall watch: nftables notifications, or iptables-legacy's table
 *   fingerprint; capped at `REPAIR_CAP_MS` so a miss shows as the cap);
 * - etcd outage: TCP sockets toward etcd (max), agent RSS growth and log lines.
 * Polls every `POLL_MS`, so figures carry that much resolution. Needs root
 * and the bundle.
 * @module
 */
import { run, sh } from "../tests/helpers/netns.ts";
import { Cluster } from "../tests/cluster/cluster.ts";
import { hostgateRoutes } from "../tests/cluster/probes.ts";
import { fmt, stats, table } from "./table.ts";

/** Options of the recovery benchmark. */
export interface RecoveryBenchOptions {
  rounds?: number;
}

const POLL_MS = 50;
const HEALTH = "http://127.0.0.1:9099";
/** Longest wait for one event; a miss is reported at this value. */
const WAIT_CAP_MS = 15_000;
/** Longest wait for a rule chain repair: past it the row shows the cap (a miss). */
const REPAIR_CAP_MS = 3_000;
/** Length of one measured etcd outage. */
const OUTAGE_MS = 4_000;

/** ms until `probe` holds (polled), or the cap. */
async function timeUntil(probe: () => Promise<boolean>, cap = WAIT_CAP_MS): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < cap) {
    if (await probe()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return cap;
}

/** /readyz answered 200 (curl: no stdin to break when the listener is away). */
async function ready(netns: string): Promise<boolean> {
  const r = await run([
    "ip",
    "netns",
    "exec",
    netns,
    "curl",
    "-s",
    "-m",
    "1",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    `${HEALTH}/readyz`,
  ]);
  return r.stdout.trim() === "200";
}

async function routeTo(netns: string, dst: string, via?: string): Promise<boolean> {
  return (await hostgateRoutes(netns)).some((r) =>
    r.dst === dst && (via === undefined || r.gateway === via)
  );
}

type Samples = Record<string, number[]>;

function push(s: Samples, key: string, v: number): void {
  (s[key] ??= []).push(v);
}

async function fileRounds(rounds: number, s: Samples): Promise<void> {
  const c = await Cluster.start({
    prefix: "hgrb",
    nodes: 2,
    datastore: "file",
    resyncInterval: "60s",
    signals: false,
  });
  try {
    await Promise.all(["n1", "n2"].map((n) => c.join(n)));
    await c.waitMesh(["n1", "n2"]);
    const n1 = c.node("n1").netns;
    const store = `${c.dir}/store`;
    for (let i = 0; i < rounds; i++) {
      // Fault: the nodes folder gone; a node added meanwhile (written into the moved folder).
      await timeUntil(() => ready(n1));
      const t0 = performance.now();
      await Deno.rename(`${store}/nodes`, `${store}/nodes.away`);
      push(
        s,
        "file: /readyz 503 after nodes/ gone",
        await timeUntil(async () => !(await ready(n1))),
      );
      const sim = `sim${i}`;
      const subnet = `10.244.${100 + i}.0/24`;
      await Deno.writeTextFile(`${store}/claims/${subnet.replace("/", "_")}`, `${sim}\n`);
      await Deno.writeTextFile(
        `${store}/nodes.away/${sim}.json`,
        JSON.stringify({ name: sim, podCidrs: [subnet], addresses: [`172.30.0.${100 + i}`] }),
      );
      const left = 3000 - (performance.now() - t0);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      const t1 = performance.now();
      await Deno.rename(`${store}/nodes.away`, `${store}/nodes`);
      const back = await timeUntil(() => ready(n1));
      push(s, "file: /readyz 200 after nodes/ back", back);
      await timeUntil(() => routeTo(n1, subnet));
      push(s, "file: a node added in the outage routed", performance.now() - t1);
    }
    // Address change: n2 moves between two addresses; n1's route follows.
    const sub2 = (await c.subnetOf("n2"))!;
    for (let i = 0; i < rounds; i++) {
      const ip = i % 2 === 0 ? "172.30.0.42" : "172.30.0.12";
      await c.changeNodeIp("n2", ip);
      push(s, "address change announced and routed", await timeUntil(() => routeTo(n1, sub2, ip)));
    }
    // Repair per object class.
    const d = c.dirs("n1");
    const conflist = `${d.conf}/10-hostgate.conflist`;
    const want = await Deno.readTextFile(conflist);
    const save = (await run(["ip", "netns", "exec", n1, "iptables-nft-save"])).stdout;
    const ipt = save.includes("HOSTGATE-FWD") ? "iptables-nft" : "iptables-legacy";
    for (let i = 0; i < rounds; i++) {
      await sh(["ip", "-n", n1, "route", "del", sub2]);
      push(s, "repair: route", await timeUntil(() => routeTo(n1, sub2)));
      await Deno.remove(conflist);
      push(
        s,
        "repair: conflist",
        await timeUntil(async () => (await Deno.readTextFile(conflist).catch(() => "")) === want),
      );
      await Deno.remove(`${d.bin}/hostgate`);
      push(
        s,
        "repair: plugin binary",
        await timeUntil(async () =>
          (await Deno.stat(`${d.bin}/hostgate`).catch(() => undefined))?.isFile === true
        ),
      );
      await sh(["ip", "netns", "exec", n1, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"]);
      push(
        s,
        "repair: ip_forward",
        await timeUntil(async () =>
          (await sh(["ip", "netns", "exec", n1, "sysctl", "-n", "net.ipv4.ip_forward"])).trim() ===
            "1"
        ),
      );
      await sh(["ip", "netns", "exec", n1, ipt, "-F", "HOSTGATE-FWD"]);
      push(
        s,
        "repair: rule chain (flushed by hand)",
        await timeUntil(async () =>
          /-A HOSTGATE-FWD .* -j ACCEPT/.test(
            (await run(["ip", "netns", "exec", n1, `${ipt}-save`])).stdout,
          ), REPAIR_CAP_MS),
      );
    }
  } finally {
    await c.teardown();
  }
}

/** TCP sockets toward etcd's client port in `netns` (any state). */
async function etcdSockets(netns: string): Promise<number> {
  const out = await sh(["ip", "netns", "exec", netns, "ss", "-tanH", "dport", "=", ":2379"]);
  return out.split("\n").filter((l) => l.trim() !== "").length;
}

async function rssKiB(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? NaN);
}

async function lineCount(path: string): Promise<number> {
  return (await Deno.readTextFile(path).catch(() => "")).split("\n").length;
}

async function etcdRounds(rounds: number, s: Samples): Promise<void> {
  const c = await Cluster.start({
    prefix: "hgrc",
    nodes: 2,
    datastore: "etcd",
    resyncInterval: "60s",
    signals: false,
  });
  try {
    await Promise.all(["n1", "n2"].map((n) => c.join(n)));
    await c.waitMesh(["n1", "n2"]);
    const n1 = c.node("n1").netns;
    const agent = c.agents.get("n1")!;
    for (let i = 0; i < rounds; i++) {
      await timeUntil(() => ready(n1));
      const rss0 = await rssKiB(agent.pid);
      const lines0 = await lineCount(c.dirs("n1").agentLog);
      const t0 = performance.now();
      await c.backend.stopServer!();
      push(s, "etcd: /readyz 503 after stop", await timeUntil(async () => !(await ready(n1))));
      let maxSockets = 0;
      while (performance.now() - t0 < OUTAGE_MS) {
        maxSockets = Math.max(maxSockets, await etcdSockets(n1));
        await new Promise((r) => setTimeout(r, 200));
      }
      push(s, "etcd outage: sockets toward etcd (max)", maxSockets);
      push(s, "etcd outage: agent RSS growth (KiB)", (await rssKiB(agent.pid)) - rss0);
      push(s, "etcd outage: agent log lines", (await lineCount(c.dirs("n1").agentLog)) - lines0);
      await c.backend.startServer!(); // returns once etcd answers /health
      push(s, "etcd: /readyz 200 after etcd healthy", await timeUntil(() => ready(n1)));
      // Frozen (SIGSTOP): the watch stays open, only the probe can tell.
      const pid = c.backend.procs()[0]!.pid;
      Deno.kill(pid, "SIGSTOP");
      push(s, "etcd: /readyz 503 after freeze", await timeUntil(async () => !(await ready(n1))));
      Deno.kill(pid, "SIGCONT");
      push(s, "etcd: /readyz 200 after thaw", await timeUntil(() => ready(n1)));
    }
  } finally {
    await c.teardown();
  }
}

/** Runs the suite and renders the table. */
export async function recoveryBench(opts: RecoveryBenchOptions = {}): Promise<string> {
  const rounds = opts.rounds ?? 10;
  const s: Samples = {};
  await fileRounds(rounds, s);
  await etcdRounds(rounds, s);
  const rows = Object.entries(s).map(([what, v]) => {
    const st = stats(v);
    const unit = what.startsWith("etcd outage") ? "" : " ms";
    return [
      what,
      String(st.n),
      fmt(st.p50, 0) + unit,
      fmt(st.p99, 0) + unit,
      fmt(st.max, 0) + unit,
    ];
  });
  return table(["what", "rounds", "p50", "p99", "max"], rows) +
    `\n\n(polled every ${POLL_MS} ms; targets: /readyz flips <= 2000 ms, convergence and repair <= 1000 ms)`;
}

if (import.meta.main) console.log(await recoveryBench());
