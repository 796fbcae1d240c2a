/**
 * Root-only: the hostPort steps (src/plugin/ports/) against a real kernel,
 * driven directly in a throwaway node netns: a dual-stack pod's elements
 * (IPv4 and IPv6, any and specific host address, every protocol) are
 * accepted in the byte layout of the declared types and listed back by nft
 * as written; the definition runs once; CHECK, GC and DEL read and delete
 * them in-process; DEL with no table creates none.
 */
import assert from "node:assert/strict";
import { FakeConntrack } from "../src/system/conntrack.ts";
import { memoryLogger } from "../src/system/log.ts";
import { FfiNftSets } from "../src/system/nftables/mod.ts";
import {
  checkPorts,
  ensurePorts,
  gcPorts,
  type PodPorts,
  removePorts,
} from "../src/plugin/ports/mod.ts";
import { isRoot, run, sh, withNetns } from "./helpers/netns.ts";

const POD: PodPorts = {
  network: "kn",
  hostVeth: "hg0123456789ab",
  podIps: ["10.66.0.5/24", "fd00:66::5/64"],
  mappings: [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "192.0.2.1" },
    { hostPort: 9000, containerPort: 9001, protocol: "sctp", hostIP: "2001:db8::1" },
  ],
};

Deno.test({
  name:
    "ports against the kernel: dual-stack elements listed as written; CHECK, GC, DEL in-process",
  ignore: !isRoot(),
  fn: () =>
    withNetns("hgpkn", async (ns) => {
      const node = await ns.add("node");
      const payloads: string[] = [];
      const nft = {
        apply: async (payload: string) => {
          payloads.push(payload);
          await sh(["ip", "netns", "exec", node, "nft", "-f", "-"], { stdin: payload });
        },
      };
      const sets = new FfiNftSets({ netns: ns.path(node) });
      const list = async () =>
        (await run(["ip", "netns", "exec", node, "nft", "list", "table", "inet", "hostgate"]))
          .stdout;
      const d = { sets, nft, conntrack: new FakeConntrack(), log: memoryLogger() };
      try {
        await removePorts(d, POD);
        assert.equal(await list(), "", "DEL with no table creates none");
        await ensurePorts(d, POD);
        await ensurePorts(d, {
          ...POD,
          hostVeth: "hg0123456789cd",
          podIps: ["10.66.0.6/24"],
          mappings: [{ hostPort: 8081, containerPort: 80, protocol: "tcp" }],
        });
        assert.equal(payloads.length, 1, "one definition; the second pod is in-process only");
        const t = await list();
        const c = `comment "hostgate kn hg0123456789ab"`;
        for (
          const want of [
            `tcp . 8080 ${c} : 10.66.0.5 . 80`,
            `tcp . 8080 ${c} : fd00:66::5 . 80`,
            `192.0.2.1 . udp . 5353 ${c} : 10.66.0.5 . 53`,
            `2001:db8::1 . sctp . 9000 ${c} : fd00:66::5 . 9001`,
            `10.66.0.5 . tcp . 80 ${c}`,
            `10.66.0.5 . udp . 53 ${c}`,
            `fd00:66::5 . tcp . 80 ${c}`,
            `fd00:66::5 . sctp . 9001 ${c}`,
            `10.66.0.6 . tcp . 80 comment "hostgate kn hg0123456789cd"`,
            `10.66.0.0/24 comment "hostgate-subnet kn"`,
            `fd00:66::/64 comment "hostgate-subnet kn"`,
            `127.0.0.0/8`,
          ]
        ) assert.ok(t.includes(want), `${want}\n${t}`);
        await checkPorts(d, POD);
        // A mapping re-pointed behind the plugin's back fails CHECK.
        await sh([
          "ip",
          "netns",
          "exec",
          node,
          "nft",
          "delete",
          "element",
          "inet",
          "hostgate",
          "hostport-any6",
          "{ tcp . 8080 }",
        ]);
        await assert.rejects(
          () => checkPorts(d, POD),
          /tcp\/8080 on every address is missing in hostport-any6/,
        );
        assert.equal(await gcPorts(d, { network: "kn", keep: new Set(["hg0123456789cd"]) }), 7);
        assert.doesNotMatch(await list(), /hg0123456789ab/);
        await removePorts(d, {
          ...POD,
          hostVeth: "hg0123456789cd",
          podIps: ["10.66.0.6/24"],
          mappings: [{ hostPort: 8081, containerPort: 80, protocol: "tcp" }],
        });
        assert.doesNotMatch(await list(), /comment "hostgate kn /);
        assert.match(await list(), /10\.66\.0\.0\/24 comment "hostgate-subnet kn"/, "subnets stay");
      } finally {
        sets.close();
      }
    }),
});
