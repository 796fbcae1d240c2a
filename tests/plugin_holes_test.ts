/**
 * Root-only: the plugin's input holes, each with the exact code and the node
 * unchanged (links, addresses, routes, the guard table and the IPAM files
 * compared before and after): CNI_NETNS naming the node's own netns, GC
 * without a valid-attachments list, and the same containerID+ifname added
 * into a second netns. Needs `deno task bundle` first. Prefix hgho.
 * @module
 */
import assert from "node:assert/strict";
import { ipFiles, netnsName, type PluginNode, withPluginNode } from "./helpers/cni.ts";
import { isRoot, run } from "./helpers/netns.ts";

const ignore = !isRoot();

/** Everything of the node a wrong call could change. */
async function nodeState(n: PluginNode): Promise<string> {
  const out: string[] = [];
  for (
    const argv of [["link", "show"], ["addr", "show"], ["route", "show", "table", "all"]]
  ) {
    out.push((await run(["ip", "-n", n.node, ...argv])).stdout.replace(/ +\d+ +sec/g, ""));
  }
  out.push((await run(["ip", "netns", "exec", n.node, "nft", "list", "ruleset"])).stdout);
  out.push((await ipFiles(n, { missingIsEmpty: true })).join(","));
  return out.join("\n");
}

for (const mode of ["routed", "bridge"] as const) {
  Deno.test({
    name: `plugin holes (${mode}): own netns is 4, GC without list is 7, a second netns is 4`,
    ignore,
    fn: () =>
      withPluginNode(`hgho${mode[0]}`, async (n) => {
        await run(["ip", "-n", n.node, "addr", "add", "192.0.2.1/32", "dev", "lo"]);
        const conf = n.conf({ extra: { mode } });
        const pod = await n.pod("p1");
        const add = await n.eth0("ADD", { containerId: "c1", netns: pod, conf });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const ip = (add.json!["ips"] as { address: string }[])[0]!.address.split("/")[0]!;
        const before = await nodeState(n);

        // 1. CNI_NETNS that is the node's own namespace, by /proc and by its /run/netns path.
        for (const netns of ["/proc/self/ns/net", `/run/netns/${n.node}`]) {
          for (const command of ["ADD", "CHECK", "DEL"]) {
            const r = await n.eth0(command, {
              containerId: "c2",
              netns,
              conf: { ...conf, prevResult: add.json },
            });
            assert.equal(r.code, 1, `${command} ${netns}`);
            assert.equal(r.json!["code"], 4, `${command} ${netns}: ${r.stdout}`);
          }
        }
        assert.equal(await nodeState(n), before, "the node changed");

        // 2. GC without the list.
        const gc = await n.call({ command: "GC", conf });
        assert.equal(gc.code, 1);
        assert.equal(gc.json!["code"], 7, gc.stdout);
        assert.equal(await nodeState(n), before, "GC without a list changed the node");

        // 3. The same containerID+ifname into a second netns.
        const other = await n.pod("p2");
        const again = await n.eth0("ADD", { containerId: "c1", netns: other, conf });
        assert.equal(again.code, 1);
        assert.equal(again.json!["code"], 4, again.stdout);
        assert.equal(await nodeState(n), before, "the second ADD changed the node");
        const p2 = await run(["ip", "-n", netnsName(other), "link", "show", "eth0"]);
        assert.notEqual(p2.code, 0, "no eth0 in the second netns");
        const ping = await run(["ip", "netns", "exec", n.node, "ping", "-c1", "-W2", ip]);
        assert.equal(ping.code, 0, `the first pod still answers: ${ping.stdout}`);
      }),
  });
}

Deno.test({
  name:
    "plugin holes: a symlinked IPAM network folder is refused (code 5), the folder it names untouched",
  ignore,
  fn: () =>
    withPluginNode("hghos", async (n) => {
      const elsewhere = await Deno.makeTempDir({ prefix: "hghos-elsewhere-" });
      try {
        // Looks like a stale reservation: GC following the link would delete it.
        await Deno.writeTextFile(`${elsewhere}/10.77.0.9`, "gone-pod\r\neth0");
        await Deno.symlink(elsewhere, `${n.dataDir}/${n.network}`);
        const conf = { ...n.conf(), "cni.dev/valid-attachments": [] };
        const gc = await n.call({ command: "GC", conf });
        assert.equal(gc.code, 1);
        assert.equal(gc.json!["code"], 5, gc.stdout);
        assert.match(String(gc.json!["msg"]), /symlink/);
        const pod = await n.pod("p1");
        const add = await n.eth0("ADD", { containerId: "c1", netns: pod, conf: n.conf() });
        assert.equal(add.json!["code"], 5, add.stdout);
        assert.deepEqual([...Deno.readDirSync(elsewhere)].map((e) => e.name), ["10.77.0.9"]);
        assert.equal(await Deno.readTextFile(`${elsewhere}/10.77.0.9`), "gone-pod\r\neth0");
      } finally {
        await Deno.remove(elsewhere, { recursive: true });
      }
    }),
});
