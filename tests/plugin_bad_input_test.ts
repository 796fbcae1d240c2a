/**
 * Root-only: a table of bad inputs (environment, JSON, versions, config
 * values, CNI_ARGS, paths) fed to dist/bundle/hostgate in a node netns.
 * Each must fail with exit 1, the exact CNI error code, one JSON error
 * object on stdout, and leave the node, the pod and the IPAM store exactly
 * as they were. Run `deno task bundle` first.
 */
import assert from "node:assert/strict";
import { type CniCall, ipJson, netnsName, type PluginNode, withPluginNode } from "./helpers/cni.ts";
import { isRoot } from "./helpers/netns.ts";

const ignore = !isRoot();

/** One bad input: what to change from a valid ADD, and the code it must give. */
interface BadCase {
  name: string;
  code: number;
  command?: string;
  /** Environment changes; undefined removes the variable. */
  env?: Record<string, string | undefined>;
  /** Top-level config changes (undefined removes the key). */
  conf?: Record<string, unknown>;
  /** IPAM section changes. */
  ipam?: Record<string, unknown>;
  /** Raw stdin instead of a config. */
  stdin?: string;
}

const LONG = "x".repeat(16);

const CASES: BadCase[] = [
  // Environment: code 4.
  { name: "no CNI_COMMAND", code: 4, env: { CNI_COMMAND: undefined } },
  { name: "unknown CNI_COMMAND", code: 4, command: "FROB" },
  { name: "lower-case command", code: 4, command: "add" },
  { name: "ADD without CNI_CONTAINERID", code: 4, env: { CNI_CONTAINERID: undefined } },
  { name: "empty CNI_CONTAINERID", code: 4, env: { CNI_CONTAINERID: "" } },
  { name: "container id starting with -", code: 4, env: { CNI_CONTAINERID: "-abc" } },
  { name: "container id with /", code: 4, env: { CNI_CONTAINERID: "ab/../c" } },
  { name: "container id with space", code: 4, env: { CNI_CONTAINERID: "a b" } },
  { name: "ADD without CNI_NETNS", code: 4, env: { CNI_NETNS: undefined } },
  { name: "relative CNI_NETNS", code: 4, env: { CNI_NETNS: "run/netns/x" } },
  { name: "CNI_NETNS that does not exist", code: 4, env: { CNI_NETNS: "/run/netns/hgplz-none" } },
  { name: "CNI_NETNS that is a regular file", code: 4, env: { CNI_NETNS: "/etc/hostname" } },
  { name: "ADD without CNI_IFNAME", code: 4, env: { CNI_IFNAME: undefined } },
  { name: "ifname of 16 bytes", code: 4, env: { CNI_IFNAME: LONG } },
  { name: "ifname .", code: 4, env: { CNI_IFNAME: "." } },
  { name: "ifname ..", code: 4, env: { CNI_IFNAME: ".." } },
  { name: "ifname with /", code: 4, env: { CNI_IFNAME: "a/b" } },
  { name: "ifname with :", code: 4, env: { CNI_IFNAME: "eth0:1" } },
  { name: "ifname with space", code: 4, env: { CNI_IFNAME: "eth 0" } },
  { name: "ADD without CNI_PATH", code: 4, env: { CNI_PATH: undefined } },
  {
    name: "DEL without CNI_CONTAINERID",
    code: 4,
    command: "DEL",
    env: { CNI_CONTAINERID: undefined },
  },
  { name: "CHECK without CNI_NETNS", code: 4, command: "CHECK", env: { CNI_NETNS: undefined } },
  { name: "GC without CNI_PATH", code: 4, command: "GC", env: { CNI_PATH: undefined } },
  { name: "CNI_ARGS pair without =", code: 4, env: { CNI_ARGS: "IgnoreUnknown=1;garbage" } },
  { name: "CNI_ARGS with empty key", code: 4, env: { CNI_ARGS: "=value" } },
  { name: "CNI_ARGS IP= not an address", code: 4, env: { CNI_ARGS: "IP=10.77.0.300" } },
  // JSON: code 6.
  { name: "empty stdin", code: 6, stdin: "" },
  { name: "truncated JSON", code: 6, stdin: '{"cniVersion":"1.1.0",' },
  { name: "JSON array", code: 6, stdin: "[]" },
  { name: "JSON null", code: 6, stdin: "null" },
  { name: "JSON string", code: 6, stdin: '"hostgate"' },
  { name: "cniVersion is a number", code: 6, conf: { cniVersion: 1 } },
  // Versions: code 1.
  { name: "cniVersion 0.2.0", code: 1, conf: { cniVersion: "0.2.0" } },
  { name: "cniVersion 2.0.0", code: 1, conf: { cniVersion: "2.0.0" } },
  { name: "cniVersion missing", code: 1, conf: { cniVersion: undefined } },
  { name: "cniVersion not semver", code: 1, conf: { cniVersion: "latest" } },
  { name: "CHECK at 0.3.1", code: 1, command: "CHECK", conf: { cniVersion: "0.3.1" } },
  { name: "GC at 1.0.0", code: 1, command: "GC", conf: { cniVersion: "1.0.0" } },
  { name: "STATUS at 0.4.0", code: 1, command: "STATUS", conf: { cniVersion: "0.4.0" } },
  // Config values: code 7.
  { name: "name missing", code: 7, conf: { name: undefined } },
  { name: "name with space", code: 7, conf: { name: "my net" } },
  { name: "bridge is a number", code: 7, conf: { bridge: 7 } },
  { name: "bridge name too long", code: 7, conf: { bridge: LONG } },
  { name: "bridge name with /", code: 7, conf: { bridge: "br/0" } },
  { name: "isGateway is a string", code: 7, conf: { isGateway: "yes" } },
  { name: "isDefaultGateway is a number", code: 7, conf: { isDefaultGateway: 1 } },
  { name: "mtu too small", code: 7, conf: { mtu: 10 } },
  { name: "mtu is a string", code: 7, conf: { mtu: "1500" } },
  { name: "hairpinMode with promiscMode", code: 7, conf: { hairpinMode: true, promiscMode: true } },
  { name: "ipam missing", code: 7, conf: { ipam: undefined } },
  { name: "ipam.type missing", code: 7, ipam: { type: undefined } },
  { name: "ipam.type is a path", code: 7, ipam: { type: "../bin/sh" } },
  { name: "ipam.type not in CNI_PATH", code: 7, ipam: { type: "hgpl-no-such-ipam" } },
  { name: "ipam.subnet not a CIDR", code: 7, ipam: { subnet: "10.77.0.0/40" } },
  { name: "ipam.rangeStart outside the subnet", code: 7, ipam: { rangeStart: "10.78.0.5" } },
  { name: "ipam.dataDir relative", code: 7, ipam: { dataDir: "var/lib/x" } },
  { name: "runtimeConfig.ips not addresses", code: 7, conf: { runtimeConfig: { ips: ["x"] } } },
  { name: "prevResult not an object", code: 7, conf: { prevResult: "x" } },
  { name: "logLevel unknown", code: 7, conf: { logLevel: "loud" } },
  { name: "CHECK without prevResult", code: 7, command: "CHECK" },
  { name: "bridge name taken by a veth", code: 7, conf: { bridge: "hgplx-veth" } },
];

interface LinkJson {
  ifname: string;
  address?: string;
  mtu?: number;
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

/**
 * What a call could change, without what the kernel changes by itself
 * (bridge timers, link-local DAD and its local routes).
 */
async function netState(netns: string): Promise<unknown> {
  const links = (await ipJson(netns, ["-d", "addr", "show"]) as LinkJson[]).map((l) => ({
    ifname: l.ifname,
    kind: l.linkinfo?.info_kind,
    address: l.address,
    mtu: l.mtu,
    master: l.master,
    up: l.flags?.includes("UP"),
    addrs: (l.addr_info ?? []).filter((a) => a.scope !== "link")
      .map((a) => `${a.local}/${a.prefixlen}`),
  }));
  const routes = (await ipJson(netns, ["route", "show", "table", "all"]) as { dst: string }[])
    .filter((r) => !/^(fe80|ff00)/.test(r.dst)).map((r) => JSON.stringify(r));
  const routes6 =
    (await ipJson(netns, ["-6", "route", "show", "table", "all"]) as { dst: string }[])
      .filter((r) => !/^(fe80|ff00)/.test(r.dst)).map((r) => JSON.stringify(r));
  return { links, routes, routes6 };
}

/** Everything a failed call must not have changed. */
async function stateOf(n: PluginNode, pod: string): Promise<string> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      files.push(e.isFile ? `${p}=${await Deno.readTextFile(p)}` : p);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(n.dataDir);
  return JSON.stringify({
    node: await netState(n.node),
    pod: await netState(netnsName(pod)),
    files: files.sort(),
  });
}

function callOf(n: PluginNode, pod: string, c: BadCase): CniCall {
  const conf: Record<string, unknown> = { ...n.conf(), ...c.conf };
  conf["ipam"] = { ...(conf["ipam"] as Record<string, unknown>), ...c.ipam };
  return {
    command: c.command ?? "ADD",
    conf: c.stdin ?? conf,
    containerId: "bad1",
    netns: pod,
    ifname: "eth0",
    env: c.env,
  };
}

Deno.test({
  name: `plugin: ${CASES.length} bad inputs give the exact code, exit 1, and change nothing`,
  ignore,
  fn: () =>
    withPluginNode("hgplo", async (n) => {
      assert.ok(CASES.length >= 40);
      const pod = await n.pod("pod");
      // The node already serves one pod: failed calls must leave it alone.
      const good = await n.call({
        command: "ADD",
        containerId: "good",
        netns: await n.pod("good"),
        ifname: "eth0",
        conf: n.conf(),
      });
      assert.equal(good.code, 0, good.stdout);
      await n.ns.sh(n.node, [
        "ip",
        "link",
        "add",
        "hgplx-veth",
        "type",
        "veth",
        "peer",
        "name",
        "hgplx-peer",
      ]);
      const before = await stateOf(n, pod);
      const failures: string[] = [];
      for (const c of CASES) {
        const out = await n.call(callOf(n, pod, c));
        const got = out.json?.["code"];
        if (out.code !== 1 || got !== c.code || typeof out.json?.["msg"] !== "string") {
          failures.push(
            `${c.name}: exit ${out.code}, code ${got} (want ${c.code}): ${out.stdout.trim()}`,
          );
          continue;
        }
        if (out.stdout.trim().split("\n").length !== 1) {
          failures.push(`${c.name}: stdout is not one JSON line`);
        }
        const after = await stateOf(n, pod);
        if (after !== before) failures.push(`${c.name}: changed the host: ${after}`);
      }
      assert.deepEqual(failures, []);
    }),
});
