/**
 * Root-only: the VXLAN guard in the kernel, per firewall backend. Nodes a1
 * (segment A) and b1 (segment B) run agents and reach each other over VXLAN;
 * a2 on segment A runs none, so no datastore entry names it. UDP sent to
 * a1's VXLAN port from a2 must be dropped, from b1 must pass. What passed is
 * counted by the test's own nft table at the input hook after the filter
 * priority (hostgate's guard decides first); what arrived at all, by one
 * before it. Needs `deno task bundle`. Netns prefix "hgvg".
 * @module
 */
import assert from "node:assert/strict";
import { isRoot, run, sh, withNetns } from "./helpers/netns.ts";
import { AGENT, LAB_WAIT, VxlanLab } from "./helpers/vxlan_lab.ts";
import { until } from "./helpers/until.ts";

/** The agent's default --vxlan-port. */
const PORT = 8472;

/** The test's counters: packets to the VXLAN port before and after the filter priority. */
const COUNTERS = `table inet hgvg-count {
  chain before {
    type filter hook input priority -10; policy accept;
    udp dport ${PORT} counter
  }
  chain after {
    type filter hook input priority 10; policy accept;
    udp dport ${PORT} counter
  }
}
`;

async function counts(netns: string): Promise<{ before: number; after: number }> {
  const text = await sh([
    "ip",
    "netns",
    "exec",
    netns,
    "nft",
    "list",
    "table",
    "inet",
    "hgvg-count",
  ]);
  const n = (chain: string) =>
    Number(new RegExp(`chain ${chain} \\{[^}]*counter packets (\\d+)`).exec(text)?.[1] ?? NaN);
  return { before: n("before"), after: n("after") };
}

/** Sends `n` UDP datagrams from `netns` to ip:PORT. */
async function send(netns: string, ip: string, n = 3): Promise<void> {
  const py = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" +
    "for _ in range(int(sys.argv[3])): s.sendto(b'hgvg probe', (sys.argv[1], int(sys.argv[2])))\n";
  await sh(["ip", "netns", "exec", netns, "python3", "-c", py, ip, String(PORT), String(n)]);
}

for (const backend of ["nftables", "iptables-legacy"] as const) {
  Deno.test({
    name: `vxlan guard (${backend}): an unknown sender is dropped, a known node passes`,
    ignore: !isRoot(),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      await Deno.stat(AGENT);
      const tmp = await Deno.makeTempDir({ prefix: "hgvg-" });
      let lab: VxlanLab | undefined;
      try {
        await withNetns("hgvg", async (set) => {
          lab = new VxlanLab(set, tmp, ["--backend=auto", `--firewall-backend=${backend}`]);
          const L = lab;
          await L.build();
          const a1 = await L.addNode("a1", "a", 11);
          const a2 = await L.addNode("a2", "a", 12);
          const b1 = await L.addNode("b1", "b", 11);
          for (const n of ["a1", "b1"]) await L.start(n);
          for (const n of ["a1", "b1"]) await until(`${n} ready`, () => L.ready(n), LAB_WAIT);
          await until("a1's guard knows b1", async () => {
            const argv = backend === "nftables"
              ? ["nft", "list", "chain", "inet", "hostgate", "HOSTGATE-VXLAN"]
              : ["iptables-legacy-save", "-t", "filter"];
            const text = (await run(["ip", "netns", "exec", a1.netns, ...argv])).stdout;
            return text.includes(b1.ip) || undefined;
          }, LAB_WAIT);
          await sh(["ip", "netns", "exec", a1.netns, "nft", "-f", "-"], { stdin: COUNTERS });

          await send(a2.netns, a1.ip);
          const afterUnknown = await counts(a1.netns);
          assert.ok(afterUnknown.before >= 3, `the probes arrived: ${afterUnknown.before}`);
          assert.equal(afterUnknown.after, 0, "an unknown sender's VXLAN is dropped");

          await send(b1.netns, a1.ip);
          const afterKnown = await counts(a1.netns);
          assert.ok(afterKnown.before >= afterUnknown.before + 3);
          assert.ok(afterKnown.after >= 3, `a known node's VXLAN passes: ${afterKnown.after}`);
        });
      } catch (e) {
        for (const n of ["a1", "b1"]) {
          console.error(await Deno.readTextFile(`${tmp}/${n}.log`).catch(() => ""));
        }
        throw e;
      } finally {
        await lab?.stopAll();
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    },
  });
}
