/**
 * Root-only: hostgate's built-in hostPort mappings and bandwidth limits with
 * real traffic between network namespaces: a "peer" netns stands for another
 * node, the node netns for the node itself, pods on its bridge. Run `deno
 * task bundle` first.
 */
import assert from "node:assert/strict";
import { addressesOf, netnsName, type PluginNode, withPluginNode } from "./helpers/cni.ts";
import { isRoot, run, sh } from "./helpers/netns.ts";
import { until } from "./helpers/until.ts";
import { renderNft } from "../src/agent/firewall/mod.ts";

const ignore = !isRoot();
const ECHO = new URL("./cluster/echo_server.ts", import.meta.url).pathname;
const UDP = new URL("./helpers/udp_echo.ts", import.meta.url).pathname;
const NODE_IP = "10.99.0.1";
const PEER_IP = "10.99.0.2";

/** A peer netns wired to the node by a veth: 10.99.0.2 -> node 10.99.0.1. */
async function addPeer(n: PluginNode): Promise<string> {
  const peer = await n.ns.add("peer");
  await sh([
    "ip",
    "-n",
    n.node,
    "link",
    "add",
    "tonode",
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    peer,
  ]);
  await sh(["ip", "-n", n.node, "addr", "add", `${NODE_IP}/24`, "dev", "tonode"]);
  await sh(["ip", "-n", n.node, "link", "set", "tonode", "up"]);
  await sh(["ip", "-n", peer, "addr", "add", `${PEER_IP}/24`, "dev", "eth0"]);
  await sh(["ip", "-n", peer, "link", "set", "eth0", "up"]);
  return peer;
}

/** A background process inside a netns, started and awaited until it prints "listening". */
async function serve(netns: string, argv: string[]): Promise<Deno.ChildProcess> {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", netns, ...argv],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  assert.match(new TextDecoder().decode(value ?? new Uint8Array()), /listening/);
  return p;
}

async function stop(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGKILL");
  } catch { /* gone */ }
  await p.status;
  await p.stdout.cancel().catch(() => {});
}

/** The first line the TCP echo server at ip:port sends to `netns` ("" when none). */
async function tcpPeer(netns: string, ip: string, port: number): Promise<string> {
  const r = await run(
    ["ip", "netns", "exec", netns, "busybox", "nc", "-w", "2", ip, String(port)],
    {
      stdin: "",
      timeoutMs: 5000,
    },
  );
  return r.stdout.trim();
}

function conf(n: PluginNode, stateDir: string, runtimeConfig: Record<string, unknown>) {
  return n.conf({
    extra: {
      stateDir,
      capabilities: { portMappings: true, bandwidth: true },
      runtimeConfig,
    },
  });
}

async function withStateDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hgports-state-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function podIpOf(res: Record<string, unknown> | undefined): string {
  return addressesOf(res)[0]!.split("/")[0]!;
}

async function nftTable(node: string): Promise<string> {
  const r = await run(["ip", "netns", "exec", node, "nft", "list", "table", "inet", "hostgate"]);
  return r.stdout;
}

Deno.test({
  name: "ports: TCP hostPort from another node, the node (own address, 127.0.0.1) and hairpin; " +
    "the same hostPort twice fails and the first keeps working; CHECK, DEL twice",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt1", async (n) => {
        const peer = await addPeer(n);
        const c = conf(n, stateDir, {
          portMappings: [{ hostPort: 18080, containerPort: 80, protocol: "tcp" }],
        });
        const web = await n.pod("web");
        const add = await n.eth0("ADD", { containerId: "web1", netns: web, conf: c });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const webIp = podIpOf(add.json);
        // The agent's nftables backend syncs its chains in the same table: the mappings stay.
        const agentRules = renderNft({ clusterCidrs: ["10.77.0.0/16"], masquerade: true });
        for (let i = 0; i < 2; i++) {
          await sh(["ip", "netns", "exec", n.node, "nft", "-f", "-"], { stdin: agentRules });
        }
        const server = await serve(netnsName(web), [
          Deno.execPath(),
          "run",
          "--allow-net",
          "--quiet",
          ECHO,
          "--port=80",
        ]);
        try {
          // Another node: DNAT only, the pod sees the real client address.
          assert.equal(await tcpPeer(peer, NODE_IP, 18080), PEER_IP);
          // The node itself, on its own address and on loopback (masqueraded).
          assert.notEqual(await tcpPeer(n.node, NODE_IP, 18080), "");
          assert.equal(await tcpPeer(n.node, "127.0.0.1", 18080), "10.77.0.1");
          // Hairpin: the pod reaches itself through the node, source NATed to the gateway.
          assert.equal(await tcpPeer(netnsName(web), NODE_IP, 18080), "10.77.0.1");
          // A neighbour on the same bridge too.
          const nb = await n.pod("nb");
          const nbAdd = await n.eth0("ADD", { containerId: "nb1", netns: nb, conf: n.conf() });
          assert.equal(nbAdd.code, 0, nbAdd.stdout);
          assert.equal(await tcpPeer(netnsName(nb), NODE_IP, 18080), "10.77.0.1");
          // The same hostPort again: a clear error, the first pod keeps it.
          const dup = await n.pod("dup");
          const second = await n.eth0("ADD", { containerId: "dup1", netns: dup, conf: c });
          assert.equal(second.code, 1);
          assert.equal(second.json!["code"], 104, second.stdout);
          assert.match(String(second.json!["msg"]), /tcp\/18080 .*already mapped to/);
          assert.equal(await tcpPeer(peer, NODE_IP, 18080), PEER_IP);
          const check = await n.eth0("CHECK", {
            containerId: "web1",
            netns: web,
            conf: { ...c, prevResult: add.json },
          });
          assert.equal(check.code, 0, check.stdout);
          const listed = await nftTable(n.node);
          assert.match(
            listed,
            new RegExp(
              `tcp \\. 18080 comment "hostgate ${n.network} hg[0-9a-f]{12}" : ${
                webIp.replaceAll(".", "\\.")
              } \\. 80`,
            ),
          );
        } finally {
          await stop(server);
        }
        for (let i = 0; i < 2; i++) {
          const del = await n.eth0("DEL", { containerId: "web1", netns: web, conf: c });
          assert.equal(del.code, 0, `DEL ${i}: ${del.stdout}`);
        }
        assert.doesNotMatch(await nftTable(n.node), /18080/);
        const records = [...Deno.readDirSync(`${stateDir}/${n.network}`)];
        assert.deepEqual(records, []);
        // The port is free again.
        const dup2 = await n.eth0("ADD", {
          containerId: "dup2",
          netns: await n.pod("dup2"),
          conf: c,
        });
        assert.equal(dup2.code, 0, dup2.stdout);
      })
    ),
});

Deno.test({
  name: "ports: a UDP hostPort follows the pod that replaces another at once (conntrack flushed)",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt2", async (n) => {
        const peer = await addPeer(n);
        const c = conf(n, stateDir, {
          portMappings: [{ hostPort: 18053, containerPort: 53, protocol: "udp" }],
        });
        const a = await n.pod("a");
        const addA = await n.eth0("ADD", { containerId: "a1", netns: a, conf: c });
        assert.equal(addA.code, 0, addA.stdout);
        // Keeps the next address busy so B gets another one than A.
        await n.eth0("ADD", { containerId: "filler", netns: await n.pod("f"), conf: n.conf() });
        const deno = [Deno.execPath(), "run", "--unstable-net", "--allow-net", "--quiet", UDP];
        const srvA = await serve(netnsName(a), [...deno, "server", "--port=53", "--tag=A"]);
        const client = new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            peer,
            ...deno,
            "client",
            `--to=${NODE_IP}`,
            "--port=18053",
            "--from-port=40053",
            "--want=B",
            "--tries=150",
          ],
          stdout: "piped",
        }).spawn();
        let srvB: Deno.ChildProcess | undefined;
        try {
          await new Promise((r) => setTimeout(r, 1000));
          const conntrack = await sh([
            "ip",
            "netns",
            "exec",
            n.node,
            "conntrack",
            "-L",
            "-p",
            "udp",
          ]);
          assert.match(
            conntrack,
            new RegExp(`dport=18053 .*src=${podIpOf(addA.json).replaceAll(".", "\\.")}`),
          );
          await stop(srvA);
          const del = await n.eth0("DEL", { containerId: "a1", netns: a, conf: c });
          assert.equal(del.code, 0, del.stdout);
          const b = await n.pod("b");
          const addB = await n.eth0("ADD", { containerId: "b1", netns: b, conf: c });
          assert.equal(addB.code, 0, addB.stdout);
          assert.notEqual(podIpOf(addB.json), podIpOf(addA.json));
          srvB = await serve(netnsName(b), [...deno, "server", "--port=53", "--tag=B"]);
          const out = await client.output();
          assert.equal(new TextDecoder().decode(out.stdout).trim(), "B");
          assert.equal(out.code, 0);
        } finally {
          try {
            client.kill("SIGKILL");
          } catch { /* done */ }
          if (srvB) await stop(srvB);
        }
      })
    ),
});

Deno.test({
  name: "ports: containerd-shaped stdin (capitalized keys, 1.0.0, IPv4 HostIP, DEL twice); GC",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt3", async (n) => {
        const peer = await addPeer(n);
        const containerd = JSON.parse(
          await Deno.readTextFile(new URL("./testdata/containerd_ports.json", import.meta.url)),
        );
        const c = {
          ...n.conf({ extra: { stateDir, cniVersion: "1.0.0" } }),
          runtimeConfig: containerd.runtimeConfig,
          capabilities: containerd.capabilities,
        };
        const pod = await n.pod("cd");
        const add = await n.eth0("ADD", { containerId: "cd1", netns: pod, conf: c });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        assert.equal(add.json!["cniVersion"], "1.0.0");
        const server = await serve(netnsName(pod), [
          Deno.execPath(),
          "run",
          "--allow-net",
          "--quiet",
          ECHO,
          "--port=8080",
        ]);
        try {
          assert.equal(await tcpPeer(peer, NODE_IP, 28080), PEER_IP);
          // HostIP 10.99.0.1 only: loopback is not that address.
          assert.equal(await tcpPeer(n.node, "127.0.0.1", 28080), "");
        } finally {
          await stop(server);
        }
        const qd = await sh(["ip", "netns", "exec", n.node, "tc", "qdisc", "show"]);
        assert.match(qd, /tbf 1: dev hg[0-9a-f]{12} root .*rate 8Mbit/);
        // GC: the kept pod stays, a stale one goes with its rules, IFB and record.
        const stale = await n.pod("stale");
        const c2 = conf(n, stateDir, {
          portMappings: [{ hostPort: 28081, containerPort: 80, protocol: "sctp" }],
          bandwidth: {
            ingressRate: 1000000,
            ingressBurst: 100000,
            egressRate: 2000000,
            egressBurst: 100000,
          },
        });
        const s = await n.eth0("ADD", { containerId: "stale1", netns: stale, conf: c2 });
        assert.equal(s.code, 0, s.stdout);
        assert.match(await nftTable(n.node), /sctp \. 28081/);
        assert.match(
          await sh(["ip", "-n", n.node, "link", "show", "type", "ifb"]),
          /hb[0-9a-f]{12}/,
        );
        const gc = await n.call({
          command: "GC",
          conf: {
            ...n.conf({ extra: { stateDir } }),
            "cni.dev/valid-attachments": [{ containerID: "cd1", ifname: "eth0" }],
          },
        });
        assert.equal(gc.code, 0, gc.stdout);
        const after = await nftTable(n.node);
        assert.doesNotMatch(after, /28081/);
        assert.match(after, /28080/);
        const ifbs = await sh(["ip", "-n", n.node, "link", "show", "type", "ifb"]);
        assert.equal(ifbs.match(/hb[0-9a-f]{12}/g)?.length ?? 0, 1, ifbs);
        assert.equal([...Deno.readDirSync(`${stateDir}/${n.network}`)].length, 1);
        for (let i = 0; i < 2; i++) {
          const del = await n.eth0("DEL", { containerId: "cd1", netns: pod, conf: c });
          assert.equal(del.code, 0, `DEL ${i}: ${del.stdout}`);
        }
        assert.doesNotMatch(await nftTable(n.node), /28080/);
        assert.doesNotMatch(await sh(["ip", "-n", n.node, "link", "show", "type", "ifb"]), /hb/);
      })
    ),
});

Deno.test({
  name: "ports: DEL and GC where the table is gone create nothing; the next ADD defines it again",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt5", async (n) => {
        const c = conf(n, stateDir, {
          portMappings: [{ hostPort: 18090, containerPort: 80, protocol: "tcp" }],
        });
        const pod = await n.pod("gone");
        const add = await n.eth0("ADD", { containerId: "gone1", netns: pod, conf: c });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        await sh(["ip", "netns", "exec", n.node, "nft", "delete", "table", "inet", "hostgate"]);
        const del = await n.eth0("DEL", { containerId: "gone1", netns: pod, conf: c });
        assert.equal(del.code, 0, del.stdout);
        const gc = await n.call({
          command: "GC",
          conf: { ...n.conf({ extra: { stateDir } }), "cni.dev/valid-attachments": [] },
        });
        assert.equal(gc.code, 0, gc.stdout);
        assert.equal(await nftTable(n.node), "", "no table made by DEL or GC");
        const again = await n.eth0("ADD", { containerId: "gone2", netns: pod, conf: c });
        assert.equal(again.code, 0, again.stdout);
        assert.match(await nftTable(n.node), /tcp \. 18090 comment/);
      })
    ),
});

Deno.test({
  name: "ports: 12 first ADDs in parallel on a fresh node all define the table and map their port",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt6", async (n) => {
        const pods = await Promise.all(
          Array.from({ length: 12 }, (_, i) => n.pod(`par${i}`)),
        );
        const outs = await Promise.all(pods.map((netns, i) =>
          n.eth0("ADD", {
            containerId: `par${i}`,
            netns,
            conf: conf(n, stateDir, {
              portMappings: [{ hostPort: 18100 + i, containerPort: 80, protocol: "udp" }],
            }),
          })
        ));
        for (const o of outs) assert.equal(o.code, 0, o.stdout + o.stderr);
        const table = await nftTable(n.node);
        for (let i = 0; i < 12; i++) {
          assert.match(table, new RegExp(`udp \\. ${18100 + i} comment`));
        }
        // One loopback prefix and one subnet prefix, however many wrote them.
        assert.equal(table.match(/10\.77\.0\.0\/24 comment "hostgate-subnet /g)?.length, 1, table);
        assert.equal(table.match(/127\.0\.0\.0\/8 /g)?.length, 1, table);
      })
    ),
});

/** iperf3 throughput in bit/s from `client` netns to `server` netns address. */
async function iperf(
  client: string,
  server: string,
  ip: string,
  reverse: boolean,
): Promise<number> {
  const srv = new Deno.Command("ip", {
    args: ["netns", "exec", server, "iperf3", "-s", "-1", "-p", "5201"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = await sh([
      "ip",
      "netns",
      "exec",
      client,
      "iperf3",
      "-c",
      ip,
      "-p",
      "5201",
      "-t",
      "4",
      "-O",
      "1",
      "-J",
      ...(reverse ? ["-R"] : []),
    ]);
    const j = JSON.parse(out);
    return j.end.sum_received.bits_per_second as number;
  } finally {
    try {
      srv.kill("SIGKILL");
    } catch { /* done */ }
    await srv.status;
  }
}

Deno.test({
  name:
    "shaping: iperf3 measures the ingress and egress limits within 15%; CHECK; DEL removes the IFB",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt4", async (n) => {
        const peer = await addPeer(n);
        await sh(["ip", "-n", peer, "route", "add", "10.77.0.0/24", "via", NODE_IP]);
        await sh(["ip", "netns", "exec", n.node, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        const ingress = 20_000_000;
        const egress = 10_000_000;
        const c = conf(n, stateDir, {
          bandwidth: {
            ingressRate: ingress,
            ingressBurst: 400_000,
            egressRate: egress,
            egressBurst: 200_000,
          },
        });
        const pod = await n.pod("bw");
        const add = await n.eth0("ADD", { containerId: "bw1", netns: pod, conf: c });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const ip = podIpOf(add.json);
        // Peer -> pod is the pod's ingress; -R makes the pod send (egress).
        const toPod = await iperf(peer, netnsName(pod), ip, false);
        const fromPod = await iperf(peer, netnsName(pod), ip, true);
        assert.ok(Math.abs(toPod - ingress) / ingress <= 0.15, `ingress ${toPod} vs ${ingress}`);
        assert.ok(Math.abs(fromPod - egress) / egress <= 0.15, `egress ${fromPod} vs ${egress}`);
        const check = await n.eth0("CHECK", {
          containerId: "bw1",
          netns: pod,
          conf: { ...c, prevResult: add.json },
        });
        assert.equal(check.code, 0, check.stdout);
        // A limit removed behind the plugin's back fails CHECK.
        const ifb = (await sh(["ip", "-n", n.node, "-o", "link", "show", "type", "ifb"])).match(
          /hb[0-9a-f]{12}/,
        )![0];
        await sh(["ip", "netns", "exec", n.node, "tc", "qdisc", "del", "dev", ifb, "root"]);
        const bad = await n.eth0("CHECK", {
          containerId: "bw1",
          netns: pod,
          conf: { ...c, prevResult: add.json },
        });
        assert.equal(bad.json!["code"], 103, bad.stdout);
        const del = await n.eth0("DEL", { containerId: "bw1", netns: pod, conf: c });
        assert.equal(del.code, 0, del.stdout);
        assert.doesNotMatch(await sh(["ip", "-n", n.node, "link", "show", "type", "ifb"]), /hb/);
        // Bad values: code 7 naming the field, nothing made.
        const badConf = conf(n, stateDir, { bandwidth: { ingressRate: 1000, ingressBurst: -1 } });
        const r = await n.eth0("ADD", {
          containerId: "bw2",
          netns: await n.pod("bw2"),
          conf: badConf,
        });
        assert.equal(r.json!["code"], 7);
        assert.match(String(r.json!["msg"]), /runtimeConfig\.bandwidth\.ingressBurst/);
      })
    ),
});

Deno.test({
  name: "ports: an IPv6 TCP hostPort from another node (DNAT only) and by hairpin (masqueraded)",
  ignore,
  fn: () =>
    withStateDir((stateDir) =>
      withPluginNode("hgpt6", async (n) => {
        const peer = await addPeer(n);
        await sh(["ip", "-n", n.node, "addr", "add", "fd00:99::1/64", "dev", "tonode", "nodad"]);
        await sh(["ip", "-n", peer, "addr", "add", "fd00:99::2/64", "dev", "eth0", "nodad"]);
        await sh([
          "ip",
          "netns",
          "exec",
          n.node,
          "sysctl",
          "-qw",
          "net.ipv6.conf.all.forwarding=1",
        ]);
        const c = n.conf({
          extra: {
            stateDir,
            capabilities: { portMappings: true },
            runtimeConfig: {
              portMappings: [{ hostPort: 18086, containerPort: 80, protocol: "tcp" }],
            },
          },
          ipam: {
            subnet: undefined,
            ranges: [[{ subnet: "10.77.0.0/24" }], [{ subnet: "fd00:77::/64" }]],
          },
        });
        const web = await n.pod("web6");
        const add = await n.eth0("ADD", { containerId: "web6", netns: web, conf: c });
        assert.equal(add.code, 0, add.stdout + add.stderr);
        const v6 = addressesOf(add.json).find((a) => a.includes(":"));
        assert.ok(v6, `no IPv6 address in ${add.stdout}`);
        const server = await serve(netnsName(web), [
          Deno.execPath(),
          "run",
          "--allow-net",
          "--quiet",
          ECHO,
          "--host=::",
          "--port=80",
        ]);
        try {
          // The node's bridge is new in this test: wait until its IPv6 link-local
          // left DAD (a real node's bridge has been up since its first pod).
          await until("the node's IPv6 addresses to leave DAD", async () =>
            (await run(["ip", "-n", n.node, "-6", "addr", "show", "tentative"])).stdout.trim() ===
              "");
          // Another node over IPv6: DNAT only, the pod sees the real client address.
          assert.equal(await tcpPeer(peer, "fd00:99::1", 18086), "fd00:99::2");
          // The same mapping answers over IPv4 as well (no hostIP: both families);
          // the server listens on "::", so it prints the IPv4-mapped client address.
          assert.equal(await tcpPeer(peer, NODE_IP, 18086), `::ffff:${PEER_IP}`);
          // Hairpin over IPv6: the pod reaches itself through the node, source NATed.
          assert.equal(await tcpPeer(netnsName(web), "fd00:99::1", 18086), "fd00:77::1");
          assert.match(await nftTable(n.node), /fd00:77::[0-9a-f]+ \. 80/);
        } finally {
          await stop(server);
        }
        const del = await n.eth0("DEL", { containerId: "web6", netns: web, conf: c });
        assert.equal(del.code, 0, del.stdout);
        assert.doesNotMatch(await nftTable(n.node), /18086/);
      })
    ),
});
