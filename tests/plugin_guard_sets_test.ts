/**
 * Root-only: the guard's kernel state through the bundled plugin, in a
 * throwaway node netns. The first ADD defines the shared tables; each pod is
 * elements (commented with its container) that CHECK finds, DEL removes
 * (with prevResult's keys or by host veth) and GC sweeps; DEL never creates
 * a table. The per-veth netdev chains of earlier versions are removed by DEL
 * and GC, and their table once empty. Needs `deno task bundle` first.
 * @module
 */
import assert from "node:assert/strict";
import { hostVethName } from "../src/plugin/names.ts";
import { type PluginNode, withPluginNode } from "./helpers/cni.ts";
import { isRoot } from "./helpers/netns.ts";

const ignore = !isRoot();

async function nft(n: PluginNode, args: string[]): Promise<{ code: number; out: string }> {
  const r = await n.ns.exec(n.node, ["nft", ...args]);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** `elements = { ... }` of one set, on one line ("" when empty). */
async function elements(n: PluginNode, family: string, set: string): Promise<string> {
  const r = await nft(n, ["list", "set", family, "hostgate-guard", set]);
  assert.equal(r.code, 0, r.out);
  const at = r.out.indexOf("elements = {");
  if (at < 0) return "";
  return r.out.slice(at, r.out.indexOf("}", at) + 1).replace(/\s+/g, " ");
}

async function tables(n: PluginNode): Promise<string[]> {
  const r = await nft(n, ["list", "tables"]);
  return r.out.split("\n").filter((l) => l.startsWith("table")).sort();
}

Deno.test({
  name: "guard sets: ADD defines once, CHECK sees the elements, DEL and GC remove exactly a pod's",
  ignore,
  fn: () =>
    withPluginNode("hggs", async (n) => {
      const conf = n.conf({ extra: { mode: "routed" } });
      // DEL before any ADD: succeeds and creates nothing.
      const early = await n.eth0("DEL", { containerId: "c0", conf });
      assert.equal(early.code, 0, early.stdout);
      assert.deepEqual(await tables(n), []);
      const adds: Record<string, Record<string, unknown>> = {};
      for (const id of ["c1", "c2", "c3"]) {
        if (id === "c3") {
          // Elements an earlier pod of c3's name left (no DEL ran): ADD must not keep them.
          const v = hostVethName(id, "eth0");
          for (const f of ["inet", "arp"]) {
            const r = await nft(n, [
              `add element ${f} hostgate-guard guarded { "${v}" }; ` +
              `add element ${f} hostgate-guard macs { "${v}" . 02:de:ad:be:ef:01 }`,
            ]);
            assert.equal(r.code, 0, r.out);
          }
        }
        const r = await n.eth0("ADD", { containerId: id, netns: await n.pod(id), conf });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        adds[id] = r.json!;
      }
      for (const f of ["inet", "arp"]) {
        assert.ok(!(await elements(n, f, "macs")).includes("02:de:ad:be:ef:01"), f);
      }
      assert.deepEqual(await tables(n), ["table arp hostgate-guard", "table inet hostgate-guard"]);
      const [v1, v2, v3] = ["c1", "c2", "c3"].map((c) => hostVethName(c, "eth0"));
      const guarded = await elements(n, "inet", "guarded");
      for (const [v, c] of [[v1, "c1"], [v2, "c2"], [v3, "c3"]]) {
        assert.ok(guarded.includes(`"${v}" comment "hostgate: ${c} eth0"`), guarded);
      }
      const ip1 = (adds["c1"]!["ips"] as { address: string }[])[0]!.address.split("/")[0];
      assert.ok((await elements(n, "arp", "addr4")).includes(`"${v1}" . ${ip1}`));
      const check = await n.eth0("CHECK", {
        containerId: "c1",
        netns: n.ns.path(`${n.ns.prefix}-c1`),
        conf: { ...conf, prevResult: adds["c1"] },
      });
      assert.equal(check.code, 0, check.stdout);

      // DEL with prevResult (keys known), DEL without (found by host veth).
      const d1 = await n.eth0("DEL", {
        containerId: "c1",
        conf: { ...conf, prevResult: adds["c1"] },
      });
      assert.equal(d1.code, 0, d1.stdout);
      const d2 = await n.eth0("DEL", { containerId: "c2", conf });
      assert.equal(d2.code, 0, d2.stdout);
      const all = (await nft(n, ["list", "table", "inet", "hostgate-guard"])).out +
        (await nft(n, ["list", "table", "arp", "hostgate-guard"])).out;
      assert.ok(!all.includes(v1!) && !all.includes(v2!), all);
      assert.ok(all.includes(v3!));
      assert.equal((await n.eth0("DEL", { containerId: "c1", conf })).code, 0, "repeated DEL");

      // CHECK of a pod whose element is gone: 103.
      await nft(n, ["flush", "set", "arp", "hostgate-guard", "addr4"]);
      const bad = await n.eth0("CHECK", {
        containerId: "c3",
        netns: n.ns.path(`${n.ns.prefix}-c3`),
        conf: { ...conf, prevResult: adds["c3"] },
      });
      assert.equal(bad.json?.["code"], 103, bad.stdout);
      assert.match(String(bad.json?.["msg"]), /is missing from set arp hostgate-guard addr4/);

      // GC with no valid attachment left sweeps c3's elements from every table.
      const gc = await n.call({
        command: "GC",
        conf: { ...conf, "cni.dev/valid-attachments": [] },
      });
      assert.equal(gc.code, 0, gc.stdout);
      for (const f of ["inet", "arp"]) {
        assert.equal(await elements(n, f, "guarded"), "", f);
        assert.equal(await elements(n, f, "macs"), "", f);
      }
    }),
});

Deno.test({
  name: "guard sets: the per-veth netdev chains of earlier versions go on DEL and GC",
  ignore,
  fn: () =>
    withPluginNode("hggl", async (n) => {
      const conf = n.conf();
      const pod = await n.pod("c1");
      const add = await n.eth0("ADD", { containerId: "c1", netns: pod, conf });
      assert.equal(add.code, 0, add.stdout);
      const v1 = hostVethName("c1", "eth0");
      const stale = "hg0000000000aa";
      // What an earlier version left: a chain on c1's veth, and one on a veth long gone.
      await n.ns.sh(n.node, ["ip", "link", "add", stale, "type", "veth", "peer", "name", "hgpeer"]);
      const legacy = (v: string) =>
        `add chain netdev hostgate-guard ${v} { type filter hook ingress device "${v}" ` +
        `priority -500; policy drop; }\n`;
      await n.ns.sh(n.node, ["nft", "-f", "-"], {
        stdin: `add table netdev hostgate-guard\n${legacy(v1)}${legacy(stale)}`,
      });
      await n.ns.sh(n.node, ["ip", "link", "del", stale]);
      const del = await n.eth0("DEL", { containerId: "c1", netns: pod, conf });
      assert.equal(del.code, 0, del.stdout);
      const left = (await nft(n, ["list", "table", "netdev", "hostgate-guard"])).out;
      assert.ok(!left.includes(`chain ${v1}`), left);
      const gc = await n.call({
        command: "GC",
        conf: { ...conf, "cni.dev/valid-attachments": [] },
      });
      assert.equal(gc.code, 0, gc.stdout);
      assert.deepEqual(await tables(n), ["table bridge hostgate-guard"]);
    }),
});
