/**
 * Policy benchmark, packet rate: small UDP packets (64-byte payloads,
 * iperf3 -u -b 0) from one pod namespace to another through a node
 * namespace that routes between them and holds the policy table, with 0,
 * 10 and 100 policies selecting the receiving pod (the one that admits the
 * sender sorts last, so a new flow walks every rule), and with no table at
 * all as the reference. Configurations are interleaved over rounds; the
 * table shows medians. Target: 100 policies >= 0.95x the rate with none.
 * @module
 */
import { RealClock } from "../src/system/clock.ts";
import { ExecNftJson } from "../src/system/nft_json.ts";
import { compile } from "../src/agent/policy/compile.ts";
import { projectNamespace, projectPod, projectPolicy } from "../src/agent/policy/project.ts";
import { resolvePolicies } from "../src/agent/policy/resolve.ts";
import { PolicySync } from "../src/agent/policy/sync.ts";
import { POLICY_TABLE } from "../src/agent/policy/nft_model.ts";
import { type NetnsSet, run, sh, withNetns } from "../tests/helpers/netns.ts";
import { NetnsExec } from "../tests/helpers/netns_exec.ts";
import { synthPod } from "./policy_synth.ts";
import { fmt, ratio, table } from "./table.ts";

const SRC_IP = "10.201.0.2";
const DST_IP = "10.202.0.2";

async function wire(set: NetnsSet): Promise<{ src: string; node: string; dst: string }> {
  const node = await set.add("node");
  const src = await set.add("src");
  const dst = await set.add("dst");
  for (const [pod, dev, net] of [[src, "vs", "10.201.0"], [dst, "vd", "10.202.0"]] as const) {
    await sh([
      "ip",
      "-n",
      node,
      "link",
      "add",
      dev,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      pod,
    ]);
    await sh(["ip", "-n", node, "addr", "add", `${net}.1/24`, "dev", dev]);
    await sh(["ip", "-n", node, "link", "set", dev, "up"]);
    await sh(["ip", "-n", pod, "addr", "add", `${net}.2/24`, "dev", "eth0"]);
    await sh(["ip", "-n", pod, "link", "set", "eth0", "up"]);
    await sh(["ip", "-n", pod, "route", "add", "default", "via", `${net}.1`]);
  }
  await set.sh(node, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  return { src, node, dst };
}

/** The table for `n` policies selecting the receiving pod (0: an empty table). */
function tableFor(n: number) {
  const policies = Array.from({ length: n }, (_, i) => ({
    metadata: { namespace: "bench", name: `p${String(i).padStart(3, "0")}` },
    spec: {
      podSelector: { matchLabels: { app: "dst" } },
      ingress: [{
        from: [{ podSelector: { matchLabels: i === n - 1 ? { app: "src" } : { k: `v${i}` } } }],
        ...(i === n - 1 ? {} : { ports: [{ port: 80 + i }] }),
      }],
    },
  }));
  const model = resolvePolicies({
    namespaces: [projectNamespace({ metadata: { name: "bench" } }).value!],
    pods: [
      projectPod(synthPod("bench", "dst", DST_IP, "node", { app: "dst" })).value!,
      projectPod(synthPod("bench", "src", SRC_IP, "other", { app: "src" })).value!,
    ],
    policies: policies.map((o) => projectPolicy(o).value!),
  });
  return compile(model, { node: "node" });
}

async function pps(src: string, seconds: number): Promise<number> {
  const r = await run([
    "ip",
    "netns",
    "exec",
    src,
    "iperf3",
    "-c",
    DST_IP,
    "-u",
    "-b",
    "0",
    "-l",
    "64",
    "-t",
    String(seconds),
    "-J",
  ]);
  const doc = JSON.parse(r.stdout || "{}") as {
    error?: string;
    end?: { sum?: { packets: number; lost_packets: number; seconds: number } };
  };
  const s = doc.end?.sum;
  if (r.code !== 0 || !s) throw new Error(`Cannot run iperf3: ${doc.error ?? r.stderr.trim()}`);
  return (s.packets - s.lost_packets) / s.seconds;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Runs the packet-rate suite; returns table rows and the 100-vs-0 ratio. */
export async function policyPps(
  opts: { seconds?: number; rounds?: number } = {},
): Promise<{ text: string; ratio100: number }> {
  const seconds = opts.seconds ?? 3;
  const rounds = opts.rounds ?? 3;
  return await withNetns("hgpp", async (set) => {
    const { src, node, dst } = await wire(set);
    const server = new Deno.Command("ip", {
      args: ["netns", "exec", dst, "iperf3", "-s", "-p", "5201"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const configs = [
        { label: "no policy table (reference)", n: -1 },
        { label: "table, 0 policies", n: 0 },
        { label: "10 policies select the pod", n: 10 },
        { label: "100 policies select the pod", n: 100 },
      ];
      const samples = new Map(configs.map((c) => [c.n, [] as number[]]));
      const exec = new NetnsExec(node);
      for (let r = 0; r < rounds; r++) {
        for (const c of configs) {
          await run([
            "ip",
            "netns",
            "exec",
            node,
            "nft",
            "delete",
            "table",
            POLICY_TABLE.family,
            POLICY_TABLE.name,
          ]);
          await run(["ip", "netns", "exec", node, "conntrack", "-F"]);
          if (c.n >= 0) {
            await new PolicySync({ nft: new ExecNftJson({ exec }), clock: new RealClock() }).sync(
              tableFor(c.n),
            );
          }
          samples.get(c.n)!.push(await pps(src, seconds));
        }
      }
      const base = median(samples.get(0)!);
      const rows = configs.map((c) => {
        const m = median(samples.get(c.n)!);
        return [
          c.label,
          fmt(m / 1000, 1),
          c.n > 0 ? ratio(m, base) : c.n === 0 ? "1.00x" : ratio(m, base),
        ];
      });
      const ratio100 = median(samples.get(100)!) / base;
      rows[3]!.push(ratio100 >= 0.95 ? ">= 0.95x ok" : "< 0.95x MISSED");
      return {
        text: table([
          "64-byte UDP through the node",
          "kpackets/s (median)",
          "vs 0 policies",
          "target",
        ], rows.map((r) => [...r, r[3] ?? ""].slice(0, 4))),
        ratio100,
      };
    } finally {
      try {
        server.kill("SIGTERM");
      } catch {
        // gone
      }
      await server.status;
    }
  });
}
