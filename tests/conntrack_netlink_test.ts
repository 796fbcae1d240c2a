/**
 * Root-only: NetlinkConntrack deletes exactly the flows of a hostPort from
 * a real conntrack table, in a throwaway network namespace (entries made
 * with the conntrack CLI, read back with it).
 */
import assert from "node:assert/strict";
import { NetlinkConntrack } from "../src/system/conntrack_netlink.ts";
import { isRoot, withNetns } from "./helpers/netns.ts";

Deno.test({
  name: "conntrack over ctnetlink: deletes the flows of one original port (and address), no others",
  ignore: !isRoot(),
  fn: () =>
    withNetns("hgctnl", async (ns) => {
      const node = await ns.add("node");
      const flows: [string, string, string, number, number][] = [
        ["udp", "10.99.0.2", "10.99.0.1", 40053, 18053],
        ["udp", "10.99.0.3", "10.99.0.1", 40054, 18053],
        ["udp", "10.99.0.3", "10.99.0.9", 40055, 18053],
        ["udp", "10.99.0.3", "10.99.0.1", 40056, 18054],
        ["tcp", "10.99.0.3", "10.99.0.1", 40057, 18053],
        ["udp", "fd00::2", "fd00::1", 40058, 18053],
        ["udp", "fd00::2", "fd00::1", 40059, 18054],
      ];
      for (const [p, s, d, sport, dport] of flows) {
        await ns.sh(node, [
          "conntrack",
          "-I",
          "-p",
          p,
          "-s",
          s,
          "-d",
          d,
          "--sport",
          String(sport),
          "--dport",
          String(dport),
          "-t",
          "120",
          ...(p === "tcp" ? ["--state", "ESTABLISHED"] : []),
        ]);
      }
      const ct = new NetlinkConntrack({ netns: ns.path(node) });
      try {
        await ct.deleteFlows({
          family: 4,
          protocol: "udp",
          origDstPort: 18053,
          origDst: "10.99.0.1",
        });
        await ct.deleteFlows({ family: 6, protocol: "udp", origDstPort: 18053 });
        await ct.deleteFlows({ family: 4, protocol: "udp", origDstPort: 9 }); // none: fine
        // The kernel filtered the dumps: only the 3 matching flows came back.
        assert.equal(ct.dumped, 3);
      } finally {
        ct.close();
      }
      const left = (await ns.exec(node, ["conntrack", "-L"])).stdout;
      const sports = [...left.matchAll(/sport=(\d+) dport=\d+ \[UNREPLIED\]/g)].map((m) => m[1]);
      assert.deepEqual(sports.sort(), ["40055", "40056", "40057", "40059"], left);
    }),
});
