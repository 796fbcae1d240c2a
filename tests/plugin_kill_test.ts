/**
 * Root-only: kill -9 of the plugin at random points of ADD, then GC as a
 * runtime would run it (only the ADDs that completed are valid). Afterwards
 * no IP file and no host veth of a killed ADD may be left, while the
 * completed ones keep theirs. Run `deno task bundle` first.
 */
import assert from "node:assert/strict";
import { cniEnv, HOSTGATE, ipJson, type PluginNode, withPluginNode } from "./helpers/cni.ts";
import { isRoot } from "./helpers/netns.ts";

const ignore = !isRoot();
const TRIALS = 24;

async function ipFiles(n: PluginNode): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${n.dataDir}/${n.network}`)) {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(e.name) || e.name.includes(":")) out.push(e.name);
  }
  return out.sort();
}

async function hostVeths(n: PluginNode): Promise<string[]> {
  const all = await ipJson(n.node, ["link", "show"]) as { ifname: string }[];
  return all.map((l) => l.ifname).filter((name) => /^hg[0-9a-f]{12}$/.test(name));
}

/** Starts ADD like a runtime, kills it with SIGKILL after `delayMs`; true when it finished first. */
async function addKilledAfter(
  n: PluginNode,
  opts: { id: string; netns: string; delayMs: number },
): Promise<boolean> {
  const env = cniEnv({
    command: "ADD",
    conf: "",
    containerId: opts.id,
    netns: opts.netns,
    ifname: "eth0",
  });
  const child = new Deno.Command("/usr/sbin/ip", {
    args: ["netns", "exec", n.node, HOSTGATE],
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(n.conf())));
  await w.close();
  await new Promise((r) => setTimeout(r, opts.delayMs));
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
  const out = await child.output();
  return out.code === 0;
}

Deno.test({
  name: `plugin: ${TRIALS} ADDs killed at random points, then GC: nothing leaks`,
  ignore,
  fn: () =>
    withPluginNode("hgplp", async (n) => {
      // Time one undisturbed ADD, so the kills land all over its run.
      const warm = await n.pod("warm");
      const t0 = performance.now();
      const ok = await n.eth0("ADD", { containerId: "warm", netns: warm, conf: n.conf() });
      const addMs = performance.now() - t0;
      assert.equal(ok.code, 0, ok.stdout);
      const completed = ["warm"];
      const delays: number[] = [];
      // Most of an ADD is the runtime starting; the IPAM and netlink work is the
      // last few milliseconds. Every other kill lands in the later half, and
      // trials go on (bounded) until at least TRIALS ran, half of them were
      // killed and one kill has hit ADD mid-way, or GC would prove nothing.
      const leaks = async () =>
        (await ipFiles(n)).length - completed.length +
        (await hostVeths(n)).length - completed.length;
      let trials = 0;
      const enough = async () =>
        trials >= TRIALS && trials + 1 - completed.length >= TRIALS / 2 && await leaks() > 0;
      while (trials < 4 * TRIALS && !(await enough())) {
        const i = trials++;
        const pod = await n.pod(`k${i}`);
        const delayMs = i % 2 === 0
          ? Math.random() * addMs * 1.1
          : addMs * (0.5 + 0.6 * Math.random());
        delays.push(Math.round(delayMs));
        if (await addKilledAfter(n, { id: `k${i}`, netns: pod, delayMs })) completed.push(`k${i}`);
      }
      const killed = trials + 1 - completed.length;
      assert.ok(
        killed >= TRIALS / 2,
        `only ${killed} of ${trials} ADDs were killed (delays ${delays.join(",")})`,
      );

      const leakedFiles = (await ipFiles(n)).length - completed.length;
      const leakedVeths = (await hostVeths(n)).length - completed.length;
      console.log(
        `killed ${killed}/${trials + 1}; left ${leakedFiles} IP files, ${leakedVeths} veths`,
      );
      assert.ok(
        leakedFiles + leakedVeths > 0,
        `no kill landed mid-ADD in ${trials} trials (delays ${delays.join(",")})`,
      );

      const valid = completed.map((id) => ({ containerID: id, ifname: "eth0" }));
      const gc = await n.call({
        command: "GC",
        conf: { ...n.conf(), "cni.dev/valid-attachments": valid },
      });
      assert.equal(gc.code, 0, gc.stdout + gc.stderr);
      assert.equal((await ipFiles(n)).length, completed.length, "one IP file per completed ADD");
      assert.equal((await hostVeths(n)).length, completed.length, "one veth per completed ADD");
      // Each survivor still owns exactly its own file.
      for (const f of await ipFiles(n)) {
        const owner = await Deno.readTextFile(`${n.dataDir}/${n.network}/${f}`);
        assert.ok(completed.includes(owner.split("\r\n")[0]!), `${f} belongs to ${owner}`);
      }
      const none = await n.call({
        command: "GC",
        conf: { ...n.conf(), "cni.dev/valid-attachments": [] },
      });
      assert.equal(none.code, 0, none.stdout);
      assert.deepEqual(await ipFiles(n), []);
      assert.deepEqual(await hostVeths(n), []);
    }),
});
