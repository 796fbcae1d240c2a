/**
 * Root-only: the plugin binary's address handling end to end: dual-stack,
 * exhaustion, sticky IPs, reserved ranges, GC and STATUS, asserted on the
 * kernel, the IPAM files and real traffic. Run `deno task bundle` first.
 */
import assert from "node:assert/strict";
import {
  addressesOf,
  ipFiles,
  ipJson,
  netnsName,
  type PluginNode,
  withPluginNode,
} from "./helpers/cni.ts";
import { isRoot } from "./helpers/netns.ts";

const ignore = !isRoot();

async function hostVeths(n: PluginNode): Promise<string[]> {
  const all = await ipJson(n.node, ["link", "show"]) as { ifname: string }[];
  return all.map((l) => l.ifname).filter((name) => /^hg[0-9a-f]{12}$/.test(name)).sort();
}

/** The reserved IPs; none while the network dir does not exist yet. */
function reservedIps(n: PluginNode): Promise<string[]> {
  return ipFiles(n, { missingIsEmpty: true });
}

Deno.test({
  name: "plugin: dual-stack pod gets v4 and v6, both default routes, v6 usable at once",
  ignore,
  fn: () =>
    withPluginNode("hgple", async (n) => {
      const conf = n.conf({
        ipam: {
          subnet: undefined,
          ranges: [[{ subnet: "10.77.0.0/24" }], [{ subnet: "fd00:77::/64" }]],
        },
      });
      const pod = await n.pod("p1");
      const r = await n.eth0("ADD", { containerId: "c1", netns: pod, conf });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const addrs = addressesOf(r.json);
      assert.equal(addrs.length, 2);
      assert.match(addrs[0]!, /^10\.77\.0\.\d+\/24$/);
      assert.match(addrs[1]!, /^fd00:77::[0-9a-f]+\/64$/);
      const v6 = await ipJson(netnsName(pod), ["-6", "addr", "show", "dev", "eth0"]) as {
        addr_info: { local: string; tentative?: boolean; scope: string }[];
      }[];
      const global = v6[0]!.addr_info.find((a) => a.scope === "global")!;
      assert.equal(`${global.local}/64`, addrs[1]);
      assert.notEqual(global.tentative, true, "no DAD: the address is not tentative");
      const dad = await n.ns.sh(netnsName(pod), ["cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad"]);
      assert.equal(dad.trim(), "0");
      const r6 = await ipJson(netnsName(pod), ["-6", "route", "show", "default"]) as {
        gateway: string;
      }[];
      assert.equal(r6[0]?.gateway, "fd00:77::1");
      const ping6 = await n.ns.exec(netnsName(pod), ["ping", "-6", "-c1", "-W2", "fd00:77::1"]);
      assert.equal(ping6.code, 0, ping6.stdout + ping6.stderr);
      const ping4 = await n.ns.exec(netnsName(pod), ["ping", "-c1", "-W2", "10.77.0.1"]);
      assert.equal(ping4.code, 0, ping4.stdout);
      assert.equal((await reservedIps(n)).length, 2);
      const del = await n.eth0("DEL", { containerId: "c1", netns: pod, conf });
      assert.equal(del.code, 0, del.stdout);
      assert.deepEqual(await reservedIps(n), []);
    }),
});

Deno.test({
  name: "plugin: an exhausted range is error 100 naming it, and changes nothing",
  ignore,
  fn: () =>
    withPluginNode("hgplf", async (n) => {
      const conf = n.conf({ ipam: { rangeStart: "10.77.0.10", rangeEnd: "10.77.0.11" } });
      for (const id of ["c1", "c2"]) {
        const pod = await n.pod(id);
        const r = await n.eth0("ADD", { containerId: id, netns: pod, conf });
        assert.equal(r.code, 0, r.stdout);
      }
      const veths = await hostVeths(n);
      const pod3 = await n.pod("c3");
      const full = await n.eth0("ADD", { containerId: "c3", netns: pod3, conf });
      assert.equal(full.code, 1);
      assert.equal(full.json!["code"], 100);
      assert.match(String(full.json!["msg"]), /10\.77\.0\.0\/24/);
      assert.deepEqual(await hostVeths(n), veths, "no veth left behind");
      const inPod = await ipJson(netnsName(pod3), ["link", "show"]) as { ifname: string }[];
      assert.deepEqual(inPod.map((l) => l.ifname), ["lo"]);
      assert.deepEqual(await reservedIps(n), ["10.77.0.10", "10.77.0.11"]);
      const status = await n.call({ command: "STATUS", conf });
      assert.equal(status.code, 1);
      assert.equal(status.json!["code"], 50);
      // Freeing one address makes both ADD and STATUS work again.
      const del = await n.eth0("DEL", { containerId: "c1", conf });
      assert.equal(del.code, 0, del.stdout);
      assert.equal((await n.call({ command: "STATUS", conf })).code, 0);
      const ok = await n.eth0("ADD", { containerId: "c3", netns: pod3, conf });
      assert.equal(ok.code, 0, ok.stdout);
    }),
});

Deno.test({
  name: "plugin: a pod that comes back under the same name gets its IP again",
  ignore,
  fn: () =>
    withPluginNode("hgplg", async (n) => {
      const conf = n.conf();
      const args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0";
      const p1 = await n.pod("p1");
      const first = await n.eth0("ADD", { containerId: "c1", netns: p1, conf, args });
      assert.equal(first.code, 0, first.stdout);
      const ip = addressesOf(first.json)[0];
      const del = await n.eth0("DEL", { containerId: "c1", netns: p1, conf, args });
      assert.equal(del.code, 0);
      // Another pod comes and goes meanwhile: round-robin would move on.
      const other = await n.pod("other");
      const o = await n.eth0("ADD", { containerId: "o1", netns: other, conf });
      assert.equal(o.code, 0);
      assert.notEqual(addressesOf(o.json)[0], ip);
      const p2 = await n.pod("p2");
      const back = await n.eth0("ADD", { containerId: "c2", netns: p2, conf, args });
      assert.equal(back.code, 0, back.stdout);
      assert.equal(addressesOf(back.json)[0], ip, "same pod name, same IP");
      // A different pod name gets a fresh address.
      const p3 = await n.pod("p3");
      const fresh = await n.eth0("ADD", {
        containerId: "c3",
        netns: p3,
        conf,
        args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1",
      });
      assert.equal(fresh.code, 0);
      assert.notEqual(addressesOf(fresh.json)[0], ip);
      // stickyTtl 0: GC keeps a held pod's sticky entry and prunes it once the pod is gone.
      const sticky = `${n.dataDir}/${n.network}/sticky/default_web-0`;
      const gcConf = (valid: { containerID: string; ifname: string }[]) => ({
        ...n.conf({ ipam: { stickyTtl: 0 } }),
        "cni.dev/valid-attachments": valid,
      });
      const held = await n.call({
        command: "GC",
        conf: gcConf([{ containerID: "c2", ifname: "eth0" }]),
      });
      assert.equal(held.code, 0, held.stdout + held.stderr);
      assert.equal(await Deno.readTextFile(sticky), `${ip!.split("/")[0]}\n`, "held: kept");
      const gone = await n.call({ command: "GC", conf: gcConf([]) });
      assert.equal(gone.code, 0, gone.stdout + gone.stderr);
      await assert.rejects(Deno.stat(sticky), Deno.errors.NotFound, "pod gone: pruned");
    }),
});

Deno.test({
  name: "plugin: reservedRanges and CNI_ARGS IP= are honoured",
  ignore,
  fn: () =>
    withPluginNode("hgplh", async (n) => {
      const conf = n.conf({
        ipam: {
          rangeStart: "10.77.0.2",
          rangeEnd: "10.77.0.9",
          reservedRanges: ["10.77.0.2-10.77.0.6", "10.77.0.8"],
        },
      });
      const got: string[] = [];
      for (const id of ["c1", "c2"]) {
        const pod = await n.pod(id);
        const r = await n.eth0("ADD", { containerId: id, netns: pod, conf });
        assert.equal(r.code, 0, r.stdout);
        got.push(addressesOf(r.json)[0]!);
      }
      assert.deepEqual(got.sort(), ["10.77.0.7/24", "10.77.0.9/24"]);
      const pod = await n.pod("c3");
      const full = await n.eth0("ADD", { containerId: "c3", netns: pod, conf });
      assert.equal(full.json!["code"], 100, "reserved addresses are never handed out");
      const plain = n.conf();
      const asked = await n.eth0("ADD", {
        containerId: "c4",
        netns: pod,
        conf: plain,
        args: "IgnoreUnknown=1;IP=10.77.0.200",
      });
      assert.equal(asked.code, 0, asked.stdout);
      assert.deepEqual(addressesOf(asked.json), ["10.77.0.200/24"]);
    }),
});

Deno.test({
  name: "plugin: GC releases stale addresses and veths, keeps the valid ones",
  ignore,
  fn: () =>
    withPluginNode("hgpli", async (n) => {
      const conf = n.conf();
      const ips: Record<string, string> = {};
      for (const id of ["c1", "c2", "c3"]) {
        const pod = await n.pod(id);
        const r = await n.eth0("ADD", { containerId: id, netns: pod, conf });
        assert.equal(r.code, 0, r.stdout);
        ips[id] = addressesOf(r.json)[0]!.split("/")[0]!;
      }
      assert.equal((await hostVeths(n)).length, 3);
      const gc = await n.call({
        command: "GC",
        conf: { ...conf, "cni.dev/valid-attachments": [{ containerID: "c2", ifname: "eth0" }] },
      });
      assert.equal(gc.code, 0, gc.stdout + gc.stderr);
      assert.equal(gc.stdout, "");
      assert.deepEqual(await reservedIps(n), [ips["c2"]]);
      assert.equal((await hostVeths(n)).length, 1);
      const ping = await n.ns.exec(`${n.ns.prefix}-c2`, ["ping", "-c1", "-W2", "10.77.0.1"]);
      assert.equal(ping.code, 0, "the valid pod still works");
      for (const f of ["lock", "last_reserved_ip.0"]) {
        await Deno.stat(`${n.dataDir}/${n.network}/${f}`);
      }
      const all = await n.call({ command: "GC", conf: { ...conf, "cni.dev/attachments": [] } });
      assert.equal(all.code, 0, all.stdout);
      assert.deepEqual(await reservedIps(n), []);
      assert.deepEqual(await hostVeths(n), []);
    }),
});

Deno.test({
  name: "plugin: STATUS is 0 when ADD can be served, 50 when the store is unusable",
  ignore,
  fn: () =>
    withPluginNode("hgplj", async (n) => {
      const ok = await n.call({ command: "STATUS", conf: n.conf() });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout, "");
      // A regular file where the store directory must be.
      const blocker = `${n.dataDir}/blocked`;
      await Deno.writeTextFile(blocker, "not a directory");
      const bad = await n.call({ command: "STATUS", conf: n.conf({ ipam: { dataDir: blocker } }) });
      assert.equal(bad.code, 1);
      assert.equal(bad.json!["code"], 50);
      const old = await n.call({
        command: "STATUS",
        conf: n.conf({ extra: { cniVersion: "1.0.0" } }),
      });
      assert.equal(old.json!["code"], 1);
    }),
});
