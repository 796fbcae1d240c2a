/**
 * Root-only: the overlay on two L2 segments joined by a router. Nodes a1 and
 * a2 on segment A, b1 on segment B, agents in `--backend auto` on the file
 * datastore: direct routes on one segment, VXLAN across (checked in the
 * kernel: routes, permanent neighbours, FDB), pods pinging both ways, a
 * full-size packet with DF set, no masquerade over the tunnel, a node that
 * changes IP and then segment, an agent restart that leaves no stale
 * entries, and uninstall. Needs `deno task bundle`. Netns prefix "hgvx".
 * @module
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { isRoot, run, sh, withNetns } from "./helpers/netns.ts";
import { AGENT, LAB_WAIT, VxlanLab } from "./helpers/vxlan_lab.ts";
import { until } from "./helpers/until.ts";

const DEV = "hostgate.1";

interface Entries {
  /** dst -> "host-gw <gw> <dev>" | "vxlan <gw>". */
  routes: Record<string, string>;
  /** "<vtep ip> <mac>" of permanent neighbours on the vxlan device. */
  neigh: string[];
  /** "<mac> <dst>" of FDB entries on the vxlan device. */
  fdb: string[];
}

async function entries(netns: string): Promise<Entries> {
  const json = async (argv: string[]) => JSON.parse((await run(argv)).stdout || "[]");
  const routes: Record<string, string> = {};
  const rs = await json(["ip", "-n", netns, "-j", "route", "show", "proto", "151"]) as {
    dst: string;
    gateway?: string;
    dev?: string;
    flags?: string[];
  }[];
  for (const r of rs) {
    if (r.gateway === undefined) continue; // a routed pod's host route: the plugin's
    const onlink = r.flags?.includes("onlink") ?? false;
    routes[r.dst] = r.dev === DEV && onlink
      ? `vxlan ${r.gateway}`
      : `host-gw ${r.gateway} ${r.dev}${onlink ? " onlink" : ""}`;
  }
  const neigh = (await json(["ip", "-n", netns, "-j", "neigh", "show", "dev", DEV]) as {
    dst: string;
    lladdr?: string;
    state?: string[];
  }[]).map((n) => `${n.dst} ${n.lladdr ?? "-"}${n.state?.includes("PERMANENT") ? "" : " !perm"}`);
  const fdb = (await json(["bridge", "-n", netns, "-j", "fdb", "show", "dev", DEV]) as {
    mac: string;
    dst?: string;
  }[]).map((e) => `${e.mac} ${e.dst ?? "-"}`);
  return { routes, neigh: neigh.sort(), fdb: fdb.sort() };
}

Deno.test({
  name: "vxlan: host-gw on a segment, VXLAN across; MTU, moves, restart, uninstall",
  ignore: !isRoot(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await Deno.stat(AGENT).catch(() => {
      throw new Error(`Cannot run the vxlan test: ${AGENT} missing (run deno task bundle)`);
    });
    const tmp = await Deno.makeTempDir({ prefix: "hgvx-" });
    let lab: VxlanLab | undefined;
    try {
      await withNetns("hgvx", async (set) => {
        lab = new VxlanLab(set, tmp, ["--backend=auto"]);
        const L = lab;
        await L.build();
        await L.addNode("a1", "a", 11);
        await L.addNode("a2", "a", 12);
        await L.addNode("b1", "b", 11);
        const ns = (n: string) => L.node(n).netns;
        // Raw underlay first: the router joins the segments.
        await sh(["ip", "netns", "exec", ns("a1"), "ping", "-c1", "-W2", "172.31.2.11"]);

        for (const n of ["a1", "a2", "b1"]) await L.start(n);
        for (const n of ["a1", "a2", "b1"]) await until(`${n} ready`, () => L.ready(n), LAB_WAIT);
        const e = async (n: string) => await L.entry(n);
        const [a1, a2, b1] = [await e("a1"), await e("a2"), await e("b1")];
        for (const x of [a1, a2, b1]) assert.ok(x.vtep, "every node announces its VTEP");
        // Random per node, not derived from the VTEP address ("0e:68" + its bytes).
        assert.equal(new Set([a1, a2, b1].map((x) => x.vtep!.mac)).size, 3);
        for (const x of [a1, a2, b1]) {
          const derived = [
            "0e",
            "68",
            ...x.vtep!.ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0")),
          ].join(":");
          assert.notEqual(x.vtep!.mac, derived);
        }
        const sub = (x: typeof a1) => x.podCidrs[0]!;
        const vtep = (x: typeof a1) => `${x.vtep!.ip} ${x.vtep!.mac}`;
        const fdbOf = (x: typeof a1, ip: string) => `${x.vtep!.mac} ${ip}`;

        // 1. Route kinds, neighbours and FDB entries in the kernel.
        const wantA1 = {
          routes: { [sub(a2)]: "host-gw 172.31.1.12 eth0", [sub(b1)]: `vxlan ${b1.vtep!.ip}` },
          neigh: [vtep(b1)],
          fdb: [fdbOf(b1, "172.31.2.11")],
        };
        await until("a1's routes and tunnel entries", async () => {
          return isDeepStrictEqual(await entries(ns("a1")), wantA1);
        }, LAB_WAIT).catch(async (err) => {
          throw new Error(`${err.message}\n${JSON.stringify(await entries(ns("a1")))}`);
        });
        const onB1 = await entries(ns("b1"));
        assert.deepEqual(onB1.routes, {
          [sub(a1)]: `vxlan ${a1.vtep!.ip}`,
          [sub(a2)]: `vxlan ${a2.vtep!.ip}`,
        });
        assert.deepEqual(onB1.neigh, [vtep(a1), vtep(a2)].sort());
        assert.deepEqual(onB1.fdb, [fdbOf(a1, "172.31.1.11"), fdbOf(a2, "172.31.1.12")].sort());
        const link =
          JSON.parse(await sh(["ip", "-n", ns("a1"), "-d", "-j", "link", "show", DEV]))[0];
        assert.equal(link.mtu, 1450);
        assert.equal(link.linkinfo.info_data.id, 1);
        assert.equal(link.linkinfo.info_data.port, 8472);
        assert.equal(link.linkinfo.info_data.local, "172.31.1.11");
        assert.equal(link.linkinfo.info_data.learning, false);

        // 2. Pods: ping on the segment and across it, both ways.
        const pa1 = await L.pod("a1", "pa1");
        const pa2 = await L.pod("a2", "pa2");
        const pb1 = await L.pod("b1", "pb1");
        const ping = (pod: string, to: string, extra: string[] = []) =>
          run(["ip", "netns", "exec", `${set.prefix}-${pod}`, "ping", "-c1", "-W2", ...extra, to]);
        const mustPing = async (from: string, to: string, extra: string[] = []) => {
          const r = await until(`${from} -> ${to} ${extra.join(" ")}`, async () => {
            const r = await ping(from, to, extra);
            return r.code === 0 ? r : undefined;
          }, 10_000);
          assert.equal(r.code, 0);
        };
        await mustPing("pa1", pa2.ip);
        await mustPing("pa1", pb1.ip);
        await mustPing("pb1", pa1.ip);
        await mustPing("pb1", pa2.ip);

        // 3. MTU: pods get uplink - 50; a full-size packet with DF crosses the tunnel.
        const conf = JSON.parse(await Deno.readTextFile(`${tmp}/a1/conf/10-hostgate.conflist`));
        assert.equal(conf.plugins[0].mtu, 1450);
        const podLink =
          JSON.parse(await sh(["ip", "-n", "hgvx-pa1", "-j", "link", "show", "eth0"]))[0];
        assert.equal(podLink.mtu, 1450);
        await mustPing("pa1", pb1.ip, ["-M", "do", "-s", "1422"]);
        await mustPing("pa1", pa2.ip, ["-M", "do", "-s", "1422"]);
        assert.notEqual((await ping("pa1", pb1.ip, ["-M", "do", "-s", "1423"])).code, 0);

        // 4. No masquerade over the tunnel: the reply goes to the pod's own address.
        const ct = await sh([
          "ip",
          "netns",
          "exec",
          ns("a1"),
          "conntrack",
          "-L",
          "-p",
          "icmp",
          "-s",
          pa1.ip,
          "-d",
          pb1.ip,
        ]);
        assert.match(ct, new RegExp(`src=${pb1.ip} dst=${pa1.ip.replaceAll(".", "\\.")} `), ct);

        // 5. a2 changes IP on its segment: a1's direct route and b1's FDB follow.
        await L.moveNode("a2", 22);
        await until(
          "a1 routes to a2 via .22",
          async () => (await entries(ns("a1"))).routes[sub(a2)] === "host-gw 172.31.1.22 eth0",
          LAB_WAIT,
        );
        await until(
          "b1's FDB sends a2's VTEP to .22",
          async () => (await entries(ns("b1"))).fdb.includes(fdbOf(a2, "172.31.1.22")),
          LAB_WAIT,
        );
        assert.ok(!(await entries(ns("b1"))).fdb.includes(fdbOf(a2, "172.31.1.12")));
        await mustPing("pa1", pa2.ip);
        await mustPing("pb1", pa2.ip);

        // 6. a2 moves to segment B: a1 tunnels to it, b1 routes directly; stale entries go.
        await L.moveNode("a2", 12, "b");
        await until("a1 tunnels to a2", async () => {
          const x = await entries(ns("a1"));
          return x.routes[sub(a2)] === `vxlan ${a2.vtep!.ip}` &&
            x.fdb.includes(fdbOf(a2, "172.31.2.12")) && x.neigh.includes(vtep(a2));
        }, LAB_WAIT);
        await until("b1 routes to a2 directly, its tunnel entries gone", async () => {
          const x = await entries(ns("b1"));
          return x.routes[sub(a2)] === "host-gw 172.31.2.12 eth0" &&
            isDeepStrictEqual(x.fdb, [fdbOf(a1, "172.31.1.11")]) &&
            isDeepStrictEqual(x.neigh, [vtep(a1)]);
        }, LAB_WAIT);
        await mustPing("pa1", pa2.ip);
        await mustPing("pb1", pa2.ip);
        await mustPing("pa1", pa2.ip, ["-M", "do", "-s", "1422"]);

        // 7. kill -9 of a1; meanwhile b1 leaves and debris appears on the device.
        await L.kill("a1", "SIGKILL");
        await L.kill("b1", "SIGTERM");
        await Deno.remove(`${tmp}/store/nodes/b1.json`);
        const junkMac = "0e:68:0a:f4:63:00";
        await sh([
          "bridge",
          "-n",
          ns("a1"),
          "fdb",
          "add",
          junkMac,
          "dev",
          DEV,
          "dst",
          "172.31.2.99",
          "self",
          "permanent",
        ]);
        await sh([
          "ip",
          "-n",
          ns("a1"),
          "neigh",
          "add",
          "10.244.99.0",
          "lladdr",
          junkMac,
          "dev",
          DEV,
          "nud",
          "permanent",
        ]);
        const monitor = new Deno.Command("ip", {
          args: ["-n", ns("a1"), "monitor", "route"],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        try {
          await L.start("a1");
          await until("a1 ready after restart", () => L.ready("a1"), LAB_WAIT);
          assert.equal((await L.entry("a1")).vtep?.mac, a1.vtep!.mac, "MAC kept across restart");
          await until("a1 has only a2's tunnel entries", async () => {
            const x = await entries(ns("a1"));
            return isDeepStrictEqual(x, {
              routes: { [sub(a2)]: `vxlan ${a2.vtep!.ip}` },
              neigh: [vtep(a2)],
              fdb: [fdbOf(a2, "172.31.2.12")],
            });
          }, LAB_WAIT);
        } finally {
          monitor.kill("SIGTERM");
        }
        const events = new TextDecoder().decode((await monitor.output()).stdout);
        assert.doesNotMatch(
          events,
          new RegExp(sub(a2).split("/")[0]!.replaceAll(".", "\\.")),
          `a2's route flapped during the restart:\n${events}`,
        );
        await mustPing("pa1", pa2.ip);

        // 8. uninstall: device, routes and entries gone.
        await L.kill("a1", "SIGTERM");
        const un = await run(L.agentArgv("a1", "uninstall", ["--firewall-backend=iptables-nft"]));
        assert.equal(un.code, 0, un.stderr);
        assert.notEqual((await run(["ip", "-n", ns("a1"), "link", "show", DEV])).code, 0);
        assert.deepEqual((await entries(ns("a1"))).routes, {});
      });
    } catch (e) {
      if (lab) console.error(await lab.logs());
      console.error(`logs kept in ${tmp}`);
      throw e;
    } finally {
      await lab?.stopAll();
      if (!Deno.env.get("HGVX_KEEP")) await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
