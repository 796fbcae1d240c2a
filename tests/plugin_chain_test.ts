/**
 * Root-only: the plugin binary against the protocol's edges: the result
 * shape of every supported version, VERSION, 20 parallel ADDs, and the
 * Debian reference `portmap` chained after hostgate. Run `deno task bundle`
 * first.
 */
import assert from "node:assert/strict";
import { netnsName, REFERENCE_PLUGINS, withPluginNode } from "./helpers/cni.ts";
import { isRoot, run } from "./helpers/netns.ts";

const ignore = !isRoot();

Deno.test({
  name: "plugin: VERSION lists the five versions, needs nothing but CNI_COMMAND",
  ignore,
  fn: () =>
    withPluginNode("hgplk", async (n) => {
      const r = await n.call({ command: "VERSION", conf: { cniVersion: "0.4.0" }, path: "" });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.json, {
        cniVersion: "1.1.0",
        supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
      });
    }),
});

Deno.test({
  name: "plugin: the result of every supported version has that version's shape",
  ignore,
  fn: () =>
    withPluginNode("hgpll", async (n) => {
      const versions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
      for (const [i, v] of versions.entries()) {
        const conf = n.conf({ extra: { cniVersion: v } });
        const pod = await n.pod(`v${i}`);
        const id = `ver${i}`;
        const r = await n.eth0("ADD", { containerId: id, netns: pod, conf });
        assert.equal(r.code, 0, `${v}: ${r.stdout}${r.stderr}`);
        const res = r.json!;
        assert.equal(res["cniVersion"], v);
        const ips = res["ips"] as Record<string, unknown>[];
        const ifaces = res["interfaces"] as Record<string, unknown>[];
        if (v.startsWith("0.")) {
          assert.equal(ips[0]!["version"], "4", v);
        } else {
          assert.ok(!("version" in ips[0]!), v);
        }
        assert.equal("mtu" in ifaces[0]!, v === "1.1.0", `${v}: interface mtu only in 1.1.0`);
        assert.equal(ips[0]!["interface"], 2);
        assert.equal(ifaces[2]!["sandbox"], pod);
        assert.deepEqual(res["routes"], [{ dst: "0.0.0.0/0", gw: "10.77.0.1" }]);
        assert.ok("dns" in res);
        const check = await n.eth0("CHECK", {
          containerId: id,
          netns: pod,
          conf: { ...conf, prevResult: res },
        });
        if (v !== "0.3.0" && v !== "0.3.1") {
          assert.equal(check.code, 0, `${v} CHECK: ${check.stdout}`);
        } else {
          assert.equal(check.json!["code"], 1, `${v}: CHECK needs 0.4.0`);
        }
        const del = await n.eth0("DEL", { containerId: id, netns: pod, conf });
        assert.equal(del.code, 0, `${v} DEL: ${del.stdout}`);
      }
      const old = await n.eth0("ADD", {
        containerId: "x",
        netns: await n.pod("x"),
        conf: n.conf({ extra: { cniVersion: "0.2.0" } }),
      });
      assert.equal(old.code, 1);
      assert.equal(old.json!["code"], 1);
    }),
});

Deno.test({
  name: "plugin: 20 parallel ADDs get 20 distinct addresses and all work",
  ignore,
  fn: () =>
    withPluginNode("hgplm", async (n) => {
      const conf = n.conf();
      const pods = await Promise.all(Array.from({ length: 20 }, (_, i) => n.pod(`p${i}`)));
      const results = await Promise.all(
        pods.map((pod, i) => n.eth0("ADD", { containerId: `par${i}`, netns: pod, conf })),
      );
      for (const [i, r] of results.entries()) {
        assert.equal(r.code, 0, `pod ${i}: ${r.stdout}`);
      }
      const addrs = results.map((r) => (r.json!["ips"] as { address: string }[])[0]!.address);
      assert.equal(new Set(addrs).size, 20, `duplicates in ${addrs.join(" ")}`);
      // Every pod really has its address and reaches the gateway.
      const pings = await Promise.all(
        pods.map((pod) => n.ns.exec(netnsName(pod), ["ping", "-c1", "-W2", "10.77.0.1"])),
      );
      pings.forEach((p, i) => assert.equal(p.code, 0, `pod ${i}: ${p.stdout}`));
      const dels = await Promise.all(
        pods.map((pod, i) => n.eth0("DEL", { containerId: `par${i}`, netns: pod, conf })),
      );
      dels.forEach((d, i) => assert.equal(d.code, 0, `DEL ${i}: ${d.stdout}`));
    }),
});

Deno.test({
  name: "plugin: the reference portmap chained after hostgate takes its result and works",
  ignore,
  fn: () =>
    withPluginNode("hgpln", async (n) => {
      const conf = n.conf({ extra: { cniVersion: "1.0.0" } });
      const pod = await n.pod("web");
      const base = { containerId: "web1", netns: pod, ifname: "eth0" };
      const add = await n.call({ ...base, command: "ADD", conf });
      assert.equal(add.code, 0, add.stdout);
      const podIp = (add.json!["ips"] as { address: string }[])[0]!.address.split("/")[0]!;
      const portmapConf = {
        cniVersion: "1.0.0",
        name: n.network,
        type: "portmap",
        capabilities: { portMappings: true },
        runtimeConfig: {
          portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }],
        },
        prevResult: add.json,
      };
      const pm = await n.call({
        ...base,
        command: "ADD",
        conf: portmapConf,
        plugin: `${REFERENCE_PLUGINS}/portmap`,
      });
      assert.equal(pm.code, 0, `portmap: ${pm.stdout}${pm.stderr}`);
      // portmap passes our result through unchanged.
      assert.deepEqual(pm.json!["ips"], add.json!["ips"]);
      const nat = await n.ns.sh(n.node, ["iptables", "-t", "nat", "-S"]);
      assert.match(nat, new RegExp(`--to-destination ${podIp.replaceAll(".", "\\.")}:80`));
      // Real traffic: a server in the pod answers on the node's hostPort.
      const server = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          netnsName(pod),
          "busybox",
          "nc",
          "-l",
          "-p",
          "80",
          "-e",
          "echo",
          "hello-from-pod",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        let reply = "";
        for (let i = 0; i < 20 && !reply.includes("hello-from-pod"); i++) {
          await new Promise((r) => setTimeout(r, 100));
          const c = await run([
            "ip",
            "netns",
            "exec",
            n.node,
            "busybox",
            "nc",
            "-w",
            "2",
            "10.77.0.1",
            "18080",
          ], {
            stdin: "",
          });
          reply = c.stdout;
        }
        assert.match(reply, /hello-from-pod/);
      } finally {
        try {
          server.kill("SIGKILL");
        } catch { /* already gone */ }
        await server.status;
      }
      const pmDel = await n.call({
        ...base,
        command: "DEL",
        conf: portmapConf,
        plugin: `${REFERENCE_PLUGINS}/portmap`,
      });
      assert.equal(pmDel.code, 0, pmDel.stdout);
      const del = await n.call({
        ...base,
        command: "DEL",
        conf: { ...conf, prevResult: add.json },
      });
      assert.equal(del.code, 0, del.stdout);
    }),
});
