/**
 * Root-only, real runtime: podman 4 with its CNI backend and hostgate alone
 * in the conflist (hostPorts built in, podman's lowercase portMappings keys).
 * podman runs inside a node network namespace (nsenter --net, so /sys and its
 * cgroups stay mounted; `ip netns exec` would remount /sys): every CNI call
 * it makes acts in that netns, never in the machine's own. Needs podman and
 * runc (tests/install_deps.sh); this machine's crun refuses hybrid cgroups,
 * so runc, cgroupfs and no default rlimits are configured. The image is an
 * empty root whose /usr is the host's, mounted read-only (busybox, deno).
 * Run `deno task bundle` first.
 */
import assert from "node:assert/strict";
import { HOSTGATE, requireBundle } from "./helpers/cni.ts";
import { isRoot, run, sh, withNetns } from "./helpers/netns.ts";

function usable(): boolean {
  for (const bin of ["podman", "runc", "nsenter"]) {
    try {
      if (
        !new Deno.Command(bin, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
          .success
      ) {
        return false;
      }
    } catch {
      return false;
    }
  }
  return true;
}

const ignore = !isRoot() || !usable();
const IMAGE = "localhost/hostgate-test-root:latest";
const DENO = Deno.execPath();
const UDP = new URL("./helpers/udp_echo.ts", import.meta.url).pathname;
const NODE_IP = "10.99.0.1";
const PEER_IP = "10.99.0.2";
const NET = "hgpodman";

interface Podman {
  /** Runs podman in the node netns; throws unless it exits 0. */
  (args: string[]): Promise<string>;
}

async function setup(dir: string, node: string): Promise<Podman> {
  await Deno.mkdir(`${dir}/net`, { recursive: true });
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.copyFile(HOSTGATE, `${dir}/bin/hostgate`);
  await Deno.chmod(`${dir}/bin/hostgate`, 0o755);
  await Deno.writeTextFile(
    `${dir}/containers.conf`,
    [
      "[containers]",
      "default_ulimits = []",
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'runtime = "runc"',
      "[network]",
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${dir}/bin", "/usr/lib/cni"]`,
      `network_config_dir = "${dir}/net"`,
      "",
    ].join("\n"),
  );
  await Deno.writeTextFile(
    `${dir}/net/${NET}.conflist`,
    JSON.stringify({
      cniVersion: "1.0.0",
      name: NET,
      plugins: [{
        type: "hostgate",
        bridge: "hgpm0",
        isGateway: true,
        isDefaultGateway: true,
        stateDir: `${dir}/state`,
        capabilities: { portMappings: true, bandwidth: true },
        ipam: { type: "hostgate-local", subnet: "10.78.0.0/24", dataDir: `${dir}/ipam` },
      }],
    }),
  );
  const podman: Podman = (args) =>
    sh(["nsenter", `--net=/run/netns/${node}`, "podman", ...args], {
      env: { CONTAINERS_CONF: `${dir}/containers.conf` },
    });
  // An empty root: /usr comes from the host at run time.
  const root = `${dir}/root`;
  for (const d of ["usr", "tmp", "etc", "proc", "sys", "dev"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  for (const l of ["bin", "lib", "lib64", "sbin"]) await Deno.symlink(`usr/${l}`, `${root}/${l}`);
  await sh(["tar", "-C", root, "-cf", `${dir}/root.tar`, "."]);
  await podman(["import", "-q", `${dir}/root.tar`, IMAGE]);
  return podman;
}

function runArgs(name: string, ports: string[], cmd: string[]): string[] {
  return [
    "run",
    "-d",
    "--name",
    name,
    "--network",
    NET,
    ...ports.flatMap((p) => ["-p", p]),
    "-v",
    "/usr:/usr:ro",
    "-v",
    `${DENO}:/deno:ro`,
    "-v",
    `${UDP}:/udp_echo.ts:ro`,
    "-e",
    "DENO_DIR=/tmp/deno",
    IMAGE,
    ...cmd,
  ];
}

async function tcp(netns: string, ip: string, port: number): Promise<string> {
  const r = await run(
    ["ip", "netns", "exec", netns, "busybox", "nc", "-w", "2", ip, String(port)],
    {
      stdin: "",
      timeoutMs: 5000,
    },
  );
  return r.stdout.trim();
}

async function retry(fn: () => Promise<string>, want: string): Promise<string> {
  let got = "";
  for (let i = 0; i < 30 && got !== want; i++) {
    got = await fn();
    if (got !== want) await new Promise((r) => setTimeout(r, 200));
  }
  return got;
}

Deno.test({
  name: "podman (CNI backend, hostgate alone): -p from another netns, the node, hairpin; " +
    "UDP follows a replaced container; rm removes the mappings",
  ignore,
  fn: async () => {
    await requireBundle();
    const dir = await Deno.makeTempDir({ prefix: "hgpodman-" });
    const names = ["hgpm-web", "hgpm-a", "hgpm-b"];
    try {
      await withNetns("hgpm", async (ns) => {
        const node = await ns.add("node");
        const peer = await ns.add("peer");
        await sh([
          "ip",
          "-n",
          node,
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
        await sh(["ip", "-n", node, "addr", "add", `${NODE_IP}/24`, "dev", "tonode"]);
        await sh(["ip", "-n", node, "link", "set", "tonode", "up"]);
        await sh(["ip", "-n", peer, "addr", "add", `${PEER_IP}/24`, "dev", "eth0"]);
        await sh(["ip", "-n", peer, "link", "set", "eth0", "up"]);
        const podman = await setup(dir, node);
        try {
          await podman(runArgs("hgpm-web", ["18080:80"], [
            "/bin/busybox",
            "nc",
            "-ll",
            "-p",
            "80",
            "-e",
            "/bin/busybox",
            "echo",
            "hello",
          ]));
          assert.equal(await retry(() => tcp(peer, NODE_IP, 18080), "hello"), "hello");
          assert.equal(await tcp(node, NODE_IP, 18080), "hello");
          assert.equal(await tcp(node, "127.0.0.1", 18080), "hello");
          // Hairpin: the container reaches its own hostPort through the node.
          const hair = await podman([
            "exec",
            "hgpm-web",
            "/bin/busybox",
            "nc",
            "-w",
            "2",
            NODE_IP,
            "18080",
          ]);
          assert.equal(hair.trim(), "hello");
          const table = await sh([
            "ip",
            "netns",
            "exec",
            node,
            "nft",
            "list",
            "table",
            "inet",
            "hostgate",
          ]);
          assert.match(table, new RegExp(`tcp \\. 18080 comment "hostgate ${NET} hg[0-9a-f]{12}"`));

          // UDP: a client keeps one 5-tuple while container A is replaced by B.
          const udpServer = (tag: string) => [
            "/deno",
            "run",
            "--unstable-net",
            "--allow-net",
            "--quiet",
            "/udp_echo.ts",
            "server",
            "--port=53",
            `--tag=${tag}`,
          ];
          await podman(runArgs("hgpm-a", ["18053:53/udp"], udpServer("A")));
          const client = new Deno.Command("ip", {
            args: [
              "netns",
              "exec",
              peer,
              DENO,
              "run",
              "--unstable-net",
              "--allow-net",
              "--quiet",
              UDP,
              "client",
              `--to=${NODE_IP}`,
              "--port=18053",
              "--from-port=40053",
              "--want=B",
              "--tries=200",
            ],
            stdout: "piped",
          }).spawn();
          try {
            for (let i = 0; i < 50; i++) {
              const ct = await sh(["ip", "netns", "exec", node, "conntrack", "-L", "-p", "udp"])
                .catch(() => "");
              if (/dport=18053 .*src=10\.78\./.test(ct)) break;
              await new Promise((r) => setTimeout(r, 200));
            }
            await podman(["rm", "-f", "hgpm-a"]);
            await podman(runArgs("hgpm-b", ["18053:53/udp"], udpServer("B")));
            const out = await client.output();
            assert.equal(new TextDecoder().decode(out.stdout).trim(), "B");
          } finally {
            try {
              client.kill("SIGKILL");
            } catch { /* done */ }
          }
          await podman(["rm", "-f", "hgpm-web", "hgpm-b"]);
          const after = await sh([
            "ip",
            "netns",
            "exec",
            node,
            "nft",
            "list",
            "table",
            "inet",
            "hostgate",
          ]);
          assert.doesNotMatch(after, /1805[0-9]|18080/);
          assert.deepEqual([...Deno.readDirSync(`${dir}/state/${NET}`)], []);
        } finally {
          // Always inside the node netns: podman's CNI DEL must never run in the machine's own.
          await run(["nsenter", `--net=/run/netns/${node}`, "podman", "rm", "-f", "-i", ...names], {
            env: { CONTAINERS_CONF: `${dir}/containers.conf` },
          });
          await run(["podman", "rmi", "-f", IMAGE], {
            env: { CONTAINERS_CONF: `${dir}/containers.conf` },
          });
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
