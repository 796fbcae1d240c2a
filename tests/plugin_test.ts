/**
 * Root-only: dist/bundle/hostgate run exactly as a runtime runs it, inside a
 * throwaway "node" netns, wiring pods that are other throwaway netns. Every
 * assertion reads the kernel, the IPAM files or the network itself.
 * Run `deno task bundle` first.
 */
import assert from "node:assert/strict";
import { ipFiles, ipJson, netnsName, withPluginNode } from "./helpers/cni.ts";
import { isRoot, run } from "./helpers/netns.ts";

const ignore = !isRoot();

interface IpAddrInfo {
  ifname: string;
  address: string;
  operstate: string;
  master?: string;
  link_type: string;
  linkinfo?: { info_kind?: string };
  addr_info: { family: string; local: string; prefixlen: number }[];
}

async function podIface(podPath: string, ifname = "eth0"): Promise<IpAddrInfo> {
  const [info] = await ipJson(netnsName(podPath), ["-d", "addr", "show", "dev", ifname]);
  return info as IpAddrInfo;
}

async function links(netns: string): Promise<IpAddrInfo[]> {
  return await ipJson(netns, ["-d", "addr", "show"]) as IpAddrInfo[];
}

Deno.test({
  name: "plugin: ADD, CHECK, DEL, DEL on a real pod",
  ignore,
  fn: () =>
    withPluginNode("hgpla", async (n) => {
      const pod = await n.pod("p1");
      const conf = n.conf();
      const base = { containerId: "c1", netns: pod, ifname: "eth0" };
      const add = await n.call({ ...base, command: "ADD", conf });
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const res = add.json!;
      assert.equal(res["cniVersion"], "1.1.0");
      const ifaces = res["interfaces"] as { name: string; mac: string; sandbox?: string }[];
      assert.equal(ifaces.length, 3);
      assert.equal(ifaces[0]!.name, "hostgate0");
      assert.match(ifaces[1]!.name, /^hg[0-9a-f]{12}$/);
      assert.equal(ifaces[2]!.sandbox, pod);
      const ips = res["ips"] as { address: string; gateway: string; interface: number }[];
      assert.equal(ips.length, 1);
      assert.equal(ips[0]!.gateway, "10.77.0.1");
      assert.equal(ips[0]!.interface, 2);

      // The kernel agrees with the result.
      const eth0 = await podIface(pod);
      assert.equal(eth0.address, ifaces[2]!.mac);
      assert.equal(eth0.operstate, "UP");
      const [addr, prefix] = ips[0]!.address.split("/");
      assert.ok(eth0.addr_info.some((a) => a.local === addr && a.prefixlen === Number(prefix)));
      const routes = await ipJson(netnsName(pod), ["route", "show", "default"]) as {
        gateway: string;
      }[];
      assert.equal(routes[0]?.gateway, "10.77.0.1");
      const nodeLinks = await links(n.node);
      const br = nodeLinks.find((l) => l.ifname === "hostgate0")!;
      assert.equal(br.linkinfo?.info_kind, "bridge");
      assert.ok(br.addr_info.some((a) => a.local === "10.77.0.1" && a.prefixlen === 24));
      const hv = nodeLinks.find((l) => l.ifname === ifaces[1]!.name)!;
      assert.equal(hv.master, "hostgate0");
      const fwd = await n.ns.sh(n.node, ["cat", "/proc/sys/net/ipv4/ip_forward"]);
      assert.equal(fwd.trim(), "1", "isGateway turns forwarding on in the node");
      assert.equal(add.stderr, "", "nothing to warn about on a clean ADD");
      assert.deepEqual(await ipFiles(n), [addr]);
      const owner = await Deno.readTextFile(`${n.dataDir}/${n.network}/${addr}`);
      assert.equal(owner, "c1\r\neth0");

      const check = await n.call({ ...base, command: "CHECK", conf: { ...conf, prevResult: res } });
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.equal(check.stdout, "");

      for (const round of [1, 2]) {
        const del = await n.call({ ...base, command: "DEL", conf: { ...conf, prevResult: res } });
        assert.equal(del.code, 0, `DEL ${round}: ${del.stdout}${del.stderr}`);
        assert.equal(del.stdout, "");
      }
      assert.ok(!(await links(n.node)).some((l) => l.ifname === ifaces[1]!.name));
      assert.ok(!(await links(netnsName(pod))).some((l) => l.ifname === "eth0"));
      assert.deepEqual(await ipFiles(n), []);
      // CHECK after DEL must fail: the attachment is gone.
      const stale = await n.call({ ...base, command: "CHECK", conf: { ...conf, prevResult: res } });
      assert.equal(stale.code, 1);
      assert.equal(stale.json!["code"], 103);
    }),
});

Deno.test({
  name: "plugin: ADD twice on one ifname fails (102) and leaves the first intact",
  ignore,
  fn: () =>
    withPluginNode("hgplb", async (n) => {
      const pod = await n.pod("p1");
      const conf = n.conf();
      const base = { containerId: "c1", netns: pod, ifname: "eth0", conf };
      const first = await n.call({ ...base, command: "ADD" });
      assert.equal(first.code, 0, first.stderr);
      const second = await n.call({ ...base, command: "ADD", containerId: "c2" });
      assert.equal(second.code, 1);
      assert.equal(second.json!["code"], 102);
      assert.match(String(second.json!["msg"]), /eth0 already exists/);
      const again = await n.call({ ...base, command: "ADD" });
      assert.equal(again.json!["code"], 102);
      // The first attachment still works and still owns its address.
      const ping = await n.ns.exec(netnsName(pod), ["ping", "-c1", "-W2", "10.77.0.1"]);
      assert.equal(ping.code, 0, ping.stdout);
      assert.equal((await ipFiles(n)).length, 1);
    }),
});

Deno.test({
  name: "plugin: DEL without CNI_NETNS, and DEL after the netns is gone",
  ignore,
  fn: () =>
    withPluginNode("hgplc", async (n) => {
      const conf = n.conf();
      const p1 = await n.pod("p1");
      const p2 = await n.pod("p2");
      for (const [id, pod] of [["c1", p1], ["c2", p2]] as const) {
        const r = await n.eth0("ADD", { containerId: id, netns: pod, conf });
        assert.equal(r.code, 0, r.stderr);
      }
      const before = (await links(n.node)).filter((l) => /^hg[0-9a-f]{12}$/.test(l.ifname));
      assert.equal(before.length, 2);
      const d1 = await n.eth0("DEL", { containerId: "c1", conf });
      assert.equal(d1.code, 0, d1.stdout + d1.stderr);
      assert.ok(!(await links(netnsName(p1))).some((l) => l.ifname === "eth0"));
      await run(["ip", "netns", "del", netnsName(p2)]);
      const d2 = await n.eth0("DEL", { containerId: "c2", netns: p2, conf });
      assert.equal(d2.code, 0, d2.stdout + d2.stderr);
      const after = (await links(n.node)).filter((l) => /^hg[0-9a-f]{12}$/.test(l.ifname));
      assert.equal(after.length, 0);
      assert.deepEqual(await ipFiles(n), []);
    }),
});

Deno.test({
  name: "plugin: two pods ping each other and the gateway",
  ignore,
  fn: () =>
    withPluginNode("hgpld", async (n) => {
      const conf = n.conf();
      const addrs: string[] = [];
      const pods: string[] = [];
      for (const name of ["a", "b"]) {
        const pod = await n.pod(name);
        const r = await n.eth0("ADD", { containerId: name, netns: pod, conf });
        assert.equal(r.code, 0, r.stderr);
        addrs.push((r.json!["ips"] as { address: string }[])[0]!.address.split("/")[0]!);
        pods.push(netnsName(pod));
      }
      assert.notEqual(addrs[0], addrs[1]);
      for (const [from, to] of [[0, 1], [1, 0]]) {
        const ping = await n.ns.exec(pods[from]!, ["ping", "-c1", "-W2", addrs[to]!]);
        assert.equal(ping.code, 0, `pod ${from} -> ${addrs[to]}: ${ping.stdout}`);
      }
      const gw = await n.ns.exec(pods[0]!, ["ping", "-c1", "-W2", "10.77.0.1"]);
      assert.equal(gw.code, 0, gw.stdout);
      // The node reaches the pod through the bridge as well.
      const fromNode = await n.ns.exec(n.node, ["ping", "-c1", "-W2", addrs[1]!]);
      assert.equal(fromNode.code, 0, fromNode.stdout);
    }),
});
