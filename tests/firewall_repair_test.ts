/**
 * Root-only: the agent's FORWARD and MASQUERADE rules deleted by hand come
 * back within 1 s, for each firewall backend, with the periodic resync far
 * away (60 s): nftables and iptables-nft through nftables notifications,
 * iptables-legacy through its table fingerprint poll. The 1 s is issue 12's
 * requirement, expressed as the deadline of the `until` poll on the kernel's
 * rules; nothing else is timed. One node of the simulated cluster (file
 * datastore) per backend. Needs `deno task bundle`. Namespace prefix hgfr.
 * @module
 */
import assert from "node:assert/strict";
import { isRoot, run, sh } from "./helpers/netns.ts";
import { Cluster } from "./cluster/cluster.ts";
import { until } from "./helpers/until.ts";
import { httpGet } from "./cluster/probes.ts";

/** Issue 12: every owned object deleted by hand comes back within 1 s. */
const REPAIR_MS = 1_000;
const FWD_JUMP = ["-m", "comment", "--comment", "hostgate: pod forwarding rules, after all others"];
const NAT_JUMP = ["-m", "comment", "--comment", "hostgate: pod masquerade rules, after all others"];

type Backend = "nftables" | "iptables-nft" | "iptables-legacy";

/** The agent's count of rule payloads written (each repair is one). */
async function writes(netns: string): Promise<number> {
  const text = await httpGet(netns, "http://127.0.0.1:9099/metrics") ?? "";
  const m = text.match(/^hostgate_firewall_writes_total (\d+)$/m);
  assert.ok(m, `no hostgate_firewall_writes_total in /metrics`);
  return Number(m[1]);
}

/**
 * Runs a hand edit in the node, then polls until `back` holds, within
 * REPAIR_MS; the agent must have written its rules again (the repair can be
 * quicker than a listing, so the edit itself is proven by the write count).
 */
async function repaired(
  netns: string,
  what: string,
  edit: string[][],
  back: () => Promise<boolean>,
  stdin?: string,
): Promise<number> {
  const before = await writes(netns);
  for (const argv of edit) await sh(["ip", "netns", "exec", netns, ...argv], { stdin });
  const t0 = performance.now();
  await until(`${what} repaired`, async () => await back() || undefined, {
    ms: REPAIR_MS,
    everyMs: 10,
  });
  const took = performance.now() - t0;
  await until(`${what}: the agent rewrote its rules`, async () => await writes(netns) > before);
  return took;
}

async function scenario(backend: Backend, t: Deno.TestContext): Promise<void> {
  const c = await Cluster.start({
    prefix: "hgfr",
    nodes: 1,
    datastore: "file",
    resyncInterval: "60s",
    agentFlags: [`--firewall-backend=${backend}`],
  });
  const ns = c.node("n1").netns;
  const times: Record<string, number> = {};
  try {
    await c.join("n1");
    if (backend === "nftables") {
      const list = async () =>
        (await run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "hostgate"])).stdout;
      const whole = async () => {
        const s = await list();
        return /chain HOSTGATE-FWD \{[^}]*saddr 10\.244\.0\.0\/16 accept/.test(s) &&
          /chain HOSTGATE-POSTRTG \{[^}]*masquerade/.test(s);
      };
      await until("the agent's chains", whole);
      await t.step("deleted chain HOSTGATE-FWD comes back within 1 s", async () => {
        times["delete chain"] = await repaired(
          ns,
          "HOSTGATE-FWD",
          [["nft", "delete", "chain", "inet", "hostgate", "HOSTGATE-FWD"]],
          whole,
        );
      });
      await t.step("flushed chain HOSTGATE-POSTRTG comes back within 1 s", async () => {
        times["flush chain"] = await repaired(
          ns,
          "HOSTGATE-POSTRTG",
          [["nft", "flush", "chain", "inet", "hostgate", "HOSTGATE-POSTRTG"]],
          whole,
        );
      });
      await t.step("deleted table comes back within 1 s", async () => {
        times["delete table"] = await repaired(
          ns,
          "table inet hostgate",
          [["nft", "delete", "table", "inet", "hostgate"]],
          whole,
        );
      });
    } else {
      const ipt = backend;
      const save = async () => (await run(["ip", "netns", "exec", ns, `${ipt}-save`])).stdout;
      const whole = async () => {
        const s = await save();
        return (s.match(/-A FORWARD .*-j HOSTGATE-FWD/g)?.length ?? 0) === 1 &&
          (s.match(/-A POSTROUTING .*-j HOSTGATE-POSTRTG/g)?.length ?? 0) === 1 &&
          /-A HOSTGATE-FWD -s 10\.244\.0\.0\/16 .*-j ACCEPT/.test(s) &&
          /-A HOSTGATE-POSTRTG .*-j MASQUERADE/.test(s);
      };
      await until("the agent's chains and jumps", whole);
      await t.step("deleted FORWARD jump comes back within 1 s", async () => {
        times["delete jump"] = await repaired(
          ns,
          "FORWARD jump",
          [[ipt, "-D", "FORWARD", ...FWD_JUMP, "-j", "HOSTGATE-FWD"]],
          whole,
        );
      });
      await t.step("flushed HOSTGATE-FWD comes back within 1 s", async () => {
        times["flush chain"] = await repaired(
          ns,
          "HOSTGATE-FWD rules",
          [[ipt, "-F", "HOSTGATE-FWD"]],
          whole,
        );
      });
      await t.step("deleted nat jump and chain come back within 1 s", async () => {
        // One transaction: the agent may repair between separate commands.
        const jump = `-D POSTROUTING ${
          NAT_JUMP.map((w) => w.includes(" ") ? `"${w}"` : w).join(" ")
        } -j HOSTGATE-POSTRTG`;
        times["delete chain"] = await repaired(
          ns,
          "HOSTGATE-POSTRTG",
          [[`${ipt}-restore`, "--noflush"]],
          whole,
          `*nat\n${jump}\n-F HOSTGATE-POSTRTG\n-X HOSTGATE-POSTRTG\nCOMMIT\n`,
        );
      });
    }
    console.error(
      `repair times (${backend}): ` +
        Object.entries(times).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(", "),
    );
  } catch (e) {
    console.error(await c.agentLogs(25));
    throw e;
  } finally {
    await c.teardown();
  }
}

for (const backend of ["nftables", "iptables-nft", "iptables-legacy"] as const) {
  Deno.test({
    name: `firewall repair within 1 s (${backend})`,
    ignore: !isRoot(),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: (t) => scenario(backend, t),
  });
}
