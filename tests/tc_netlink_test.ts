/**
 * Root-only: traffic control over rtnetlink in-process (NetlinkTc) against
 * the real kernel and the real `tc`, in throwaway namespaces named hgtc-*.
 * The same changes are made once by `tc` (ExecTc) and once in-process, on
 * twin devices, and `tc -j` must report the two alike: rates, bursts, queue
 * limits, the ingress qdisc and the u32 redirect. The root netns is only
 * read, before and after, to prove it did not change.
 */
import assert from "node:assert/strict";
import { isRoot, type NetnsSet, run, sh, withNetns } from "./helpers/netns.ts";
import type { Exec } from "../src/system/exec.ts";
import { openLibc } from "../src/system/netlink/libc.ts";
import { NetlinkTc } from "../src/system/netlink/tc_handle.ts";
import { ExecTc, type Tc, TcError, type TcOp, type TcQdisc } from "../src/system/tc.ts";

const ignore = !isRoot();
const libc = ignore ? undefined! : openLibc();

// deno-lint-ignore no-explicit-any
type Json = any;

/** What of the root netns traffic control could change: its links and their qdiscs. */
async function rootPicture(): Promise<string> {
  const links = JSON.parse(await sh(["ip", "-j", "link"])).map((l: Json) => l.ifname);
  const qd = JSON.parse(await sh(["tc", "-j", "qdisc", "show"])).map((q: Json) =>
    [q.dev, q.kind, q.handle, q.parent ?? "root"].join(" ")
  );
  return JSON.stringify({ links, qd });
}

function nsTest(name: string, fn: (ns: NetnsSet) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    fn: async () => {
      const before = await rootPicture();
      await withNetns("hgtc", fn);
      assert.equal(await rootPicture(), before, "root netns changed");
    },
  });
}

/** ExecTc running `tc` inside `node`. */
function tcIn(node: string): ExecTc {
  const exec: Exec = { run: (argv, opts) => run(["ip", "netns", "exec", node, ...argv], opts) };
  return new ExecTc(exec);
}

async function tcj(node: string, args: string[]): Promise<Json> {
  const out = await sh(["ip", "netns", "exec", node, "tc", "-j", ...args]);
  return out.trim() ? JSON.parse(out) : [];
}

async function withTcs(
  ns: NetnsSet,
  fn: (o: { node: string; exec: Tc; nl: NetlinkTc }) => Promise<void>,
): Promise<void> {
  const node = await ns.add("node");
  const nl = new NetlinkTc({ libc: () => libc, netns: ns.path(node) });
  try {
    await fn({ node, exec: tcIn(node), nl });
  } finally {
    nl.close();
  }
}

/** Rates (bit/s) and bursts (bytes) across the range: tiny, odd, common, above 2^32 bytes/s. */
const CASES: [rateBits: number, burst: number][] = [
  [8_000, 1_600],
  [1_000_003, 12_345],
  [20_000_000, 50_000],
  [10_000_000, 200_000],
  [1_000_000_000, 1_000_000],
  [40_000_000_000, 5_000_000],
];

/**
 * A queue limit past 2^32 bytes (here 80 Tbit/s): tc's C conversion wraps it
 * modulo 2^32 (596929536 bytes here); NetlinkTc keeps the largest limit the
 * kernel holds instead. Everything else is as tc makes it.
 */
const HUGE: [rateBits: number, burst: number] = [80_000_000_000_000, 4_000_000_000];

nsTest(
  "tc over netlink: every TBF is the one tc makes (tc -j, with details and raw)",
  async (ns) => {
    await withTcs(ns, async ({ node, exec, nl }) => {
      for (const [i, [rateBits, burst]] of CASES.entries()) {
        for (const side of ["t", "n"]) {
          await sh(["ip", "-n", node, "link", "add", `${side}${i}`, "type", "ifb"]);
        }
        const op = (dev: string): TcOp => ({ op: "tbf", dev, rateBits, burst, latencyUs: 25_000 });
        await exec.apply([op(`t${i}`)]);
        await nl.apply([op(`n${i}`)]);
        for (const flags of [[], ["-d", "-raw"]]) {
          const byTc = await tcj(node, [...flags, "qdisc", "show", "dev", `t${i}`]);
          const byNl = await tcj(node, [...flags, "qdisc", "show", "dev", `n${i}`]);
          assert.equal(byTc[0].kind, "tbf");
          assert.deepEqual(byNl, byTc, `rate ${rateBits}bit burst ${burst} ${flags.join(" ")}`);
        }
        // Read back in-process exactly as ExecTc reads `tc -j`.
        const fields = (qs: TcQdisc[]) =>
          qs.map((q) => [q.kind, q.handle, q.root, q.options?.rate, q.options?.burst]);
        assert.deepEqual(fields(await nl.qdiscs(`n${i}`)), fields(await exec.qdiscs(`t${i}`)));
        const [q] = await nl.qdiscs(`n${i}`);
        assert.equal(q!.options!.rate, Math.floor(rateBits / 8));
      }
    });
  },
);

nsTest(
  "tc over netlink: ingress qdisc and u32 redirect to the IFB as tc makes them",
  async (ns) => {
    await withTcs(ns, async ({ node, exec, nl }) => {
      const pod = await ns.add("pod");
      for (const side of ["t", "n"]) {
        await sh([
          "ip",
          "-n",
          node,
          "link",
          "add",
          `${side}veth`,
          "type",
          "veth",
          "peer",
          "name",
          `${side}eth0`,
          "netns",
          pod,
        ]);
        await sh(["ip", "-n", node, "link", "add", `${side}ifb`, "type", "ifb"]);
      }
      const ops = (s: string): TcOp[] => [
        { op: "tbf", dev: `${s}veth`, rateBits: 20_000_000, burst: 50_000, latencyUs: 25_000 },
        { op: "tbf", dev: `${s}ifb`, rateBits: 10_000_000, burst: 25_000, latencyUs: 25_000 },
        { op: "ingress", dev: `${s}veth` },
        { op: "redirect", dev: `${s}veth`, to: `${s}ifb` },
      ];
      await exec.apply(ops("t"));
      await nl.apply(ops("n"));
      for (const dev of ["veth", "ifb"]) {
        assert.deepEqual(
          await tcj(node, ["-d", "-raw", "qdisc", "show", "dev", `n${dev}`]),
          await tcj(node, ["-d", "-raw", "qdisc", "show", "dev", `t${dev}`]),
        );
      }
      // The filters alike but for the target's name and the action's index.
      const filters = async (s: string) =>
        JSON.stringify(await tcj(node, ["-d", "filter", "show", "dev", `${s}veth`, "ingress"]))
          .replaceAll(`"${s}ifb"`, '"IFB"').replace(/"index":\d+/g, '"index":0');
      assert.equal(await filters("n"), await filters("t"));
      assert.match(await filters("n"), /"to_dev":"IFB".*"type":"stolen"/);
      assert.deepEqual(await nl.ingressFilters("nveth"), [{ kind: "u32", redirectTo: "nifb" }]);
      assert.deepEqual(await exec.ingressFilters("tveth"), [{ kind: "u32", redirectTo: "tifb" }]);
      assert.deepEqual(
        (await nl.qdiscs("nveth")).map((q) => [q.kind, q.handle, q.root ?? q.parent]),
        [["tbf", "1:", true], ["ingress", "ffff:", "ffff:fff1"]],
      );
      // The redirect works: what the pod sends is counted on the IFB's TBF.
      await sh(["ip", "-n", node, "link", "set", "nveth", "up"]);
      await sh(["ip", "-n", node, "link", "set", "nifb", "up"]);
      await sh(["ip", "-n", pod, "link", "set", "neth0", "up"]);
      await sh(["ip", "-n", pod, "addr", "add", "10.9.0.2/24", "dev", "neth0"]);
      await run([
        "ip",
        "netns",
        "exec",
        pod,
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "1",
        "10.9.0.1",
      ]);
      const [st] = await tcj(node, ["-s", "qdisc", "show", "dev", "nifb"]);
      assert.ok(st.packets >= 3, `packets through the IFB's TBF: ${st.packets}`);
    });
  },
);

nsTest(
  "tc over netlink: a queue limit past 32 bits is the largest, not tc's wrapped one",
  async (ns) => {
    await withTcs(ns, async ({ node, exec, nl }) => {
      const [rateBits, burst] = HUGE;
      for (const dev of ["tbig", "nbig"]) {
        await sh(["ip", "-n", node, "link", "add", dev, "type", "ifb"]);
      }
      const op = (dev: string): TcOp => ({ op: "tbf", dev, rateBits, burst, latencyUs: 25_000 });
      await exec.apply([op("tbig")]);
      await nl.apply([op("nbig")]);
      const [byTc] = await tcj(node, ["-d", "-raw", "qdisc", "show", "dev", "tbig"]);
      const [byNl] = await tcj(node, ["-d", "-raw", "qdisc", "show", "dev", "nbig"]);
      assert.equal(byTc.options.limit, 596_929_536);
      assert.equal(byNl.options.limit, 0xffff_ffff);
      for (const q of [byTc, byNl]) {
        delete q.options.limit;
        delete q.options.lat;
      }
      assert.deepEqual(byNl, byTc);
    });
  },
);

nsTest(
  "tc over netlink: refusals are TcErrors and change nothing; a missing device has none",
  async (ns) => {
    await withTcs(ns, async ({ node, nl }) => {
      await sh(["ip", "-n", node, "link", "add", "ifb0", "type", "ifb"]);
      const tbf: TcOp = {
        op: "tbf",
        dev: "ifb0",
        rateBits: 8_000_000,
        burst: 10_000,
        latencyUs: 25_000,
      };
      await nl.apply([tbf]);
      await assert.rejects(
        nl.apply([{ ...tbf, rateBits: 16_000_000 }]),
        (e) => e instanceof TcError && /file exists \(EEXIST\)/.test(e.message),
      );
      assert.equal((await nl.qdiscs("ifb0"))[0]!.options!.rate, 1_000_000, "the first one stays");
      await assert.rejects(nl.apply([{ ...tbf, dev: "gone0" }]), /Cannot find device "gone0"/);
      await assert.rejects(
        nl.apply([{ op: "redirect", dev: "ifb0", to: "ifb0" }]),
        (e) => e instanceof TcError && /add filter redirecting ifb0/.test(e.message),
        "no ingress qdisc to hang the filter on",
      );
      await assert.rejects(nl.apply([{ ...tbf, dev: "lo", rateBits: 7 }]), /below 8 bit\/s/);
      assert.deepEqual(await nl.qdiscs("gone0"), []);
      assert.deepEqual(await nl.ingressFilters("gone0"), []);
      assert.deepEqual(await nl.ingressFilters("ifb0"), [], "no ingress qdisc: no filters");
      assert.deepEqual(
        (await nl.qdiscs("lo")).map((q) => [q.kind, q.root]),
        [["noqueue", true]],
      );
      nl.close();
      await assert.rejects(nl.qdiscs("ifb0"), /closed/);
    });
  },
);
