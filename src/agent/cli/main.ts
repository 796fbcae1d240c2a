/**
 * Entry point of `hostgate-agent`: parses the subcommand and its flags
 * (flag > environment > default), builds the real system objects and hands
 * them to the command. Exit codes: 0 ok, 1 failed (status: something not in
 * place), 2 bad usage.
 * @module
 */
import { RealClock } from "../../system/clock.ts";
import { RealExec } from "../../system/exec.ts";
import { ExecNftJson } from "../../system/nft_json.ts";
import { ExecNft, findNft } from "../../system/nft.ts";
import { RealFileSystem } from "../../system/fs.ts";
import { CAP_SYS_ADMIN, hasEffectiveCapability } from "../../system/capabilities.ts";
import { FfiNetlink } from "../../system/netlink/mod.ts";
import { type Libc, openLibc } from "../../system/netlink/libc.ts";
import { monitorNftables } from "../../system/netlink/nft_monitor.ts";
import { XtablesInfo } from "../../system/netlink/xtables_info.ts";
import { familyOf } from "../../net/mod.ts";
import { createDatastore } from "../../datastore/mod.ts";
import type { AgentConfig } from "./agent_config.ts";
import { ConfigError, parseConfig } from "./config.ts";
import { commandHelp, usage } from "./options.ts";
import { datastoreOptions } from "./datastore_options.ts";
import { createFirewallDriver, type LegacyTables, watchFirewall } from "../firewall/mod.ts";
import { createLogger, Metrics } from "../observe/mod.ts";
import { runAgent } from "./run.ts";
import { parsePolicyArgs, POLICY_USAGE, policyExplain } from "./policy_command.ts";
import { denoWatch } from "../reconcile/mod.ts";
import { type CommandDeps, installCommand, statusCommand, uninstallCommand } from "./commands.ts";

const enc = new TextEncoder();
const out = (s: string) => Deno.stdout.writeSync(enc.encode(s));
const err = (s: string) => Deno.stderr.writeSync(enc.encode(s));

/** The kernel side of the firewall watch: nftables notifications, legacy table fingerprints. */
function firewallWatchDeps(libc: Libc, cfg: AgentConfig) {
  const families = [...new Set(cfg.clusterCidrs.map(familyOf))];
  return {
    retryMinMs: cfg.retryMinMs,
    retryMaxMs: cfg.retryMaxMs,
    monitorNft: (o: Parameters<Parameters<typeof watchFirewall>[0]["monitorNft"]>[0]) =>
      monitorNftables(libc, o),
    openLegacy: (): LegacyTables => {
      const infos: XtablesInfo[] = [];
      try {
        for (const f of families) infos.push(new XtablesInfo(libc, f));
      } catch (e) {
        for (const i of infos) i.close();
        throw e;
      }
      return {
        read: () =>
          infos.map((i) => `${i.fingerprint("filter")}:${i.fingerprint("nat")}`).join("/"),
        close: () => infos.forEach((i) => i.close()),
      };
    },
  };
}

/** "hostgate" beside this program: the compiled binary's dir, or the bundle's. */
function defaultPluginSrc(): string {
  const exe = Deno.execPath();
  const isDeno = /\/deno$/.test(exe);
  const self = isDeno ? new URL(Deno.mainModule).pathname : exe;
  return `${self.slice(0, self.lastIndexOf("/"))}/hostgate`;
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    (first === undefined ? err : out)(commandHelp() + "\n");
    return first === undefined ? 2 : 0;
  }
  if (first === "policy") return await policyMain(argv.slice(1));
  let cfg: AgentConfig;
  try {
    cfg = parseConfig(argv, { env: Deno.env.toObject(), hostname: Deno.hostname() });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err(`${e.message}\n\n`);
    err(
      (["run", "install", "uninstall", "status"].includes(first)
        ? usage(first as "run")
        : commandHelp()) + "\n",
    );
    return 2;
  }
  if (cfg.help) {
    out(usage(cfg.command) + "\n");
    return 0;
  }
  if (cfg.pluginSrc === "") cfg.pluginSrc = defaultPluginSrc();
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  const exec = new RealExec();
  const fs = new RealFileSystem();
  const clock = new RealClock();
  const libc = openLibc();
  const netlink = new FfiNetlink(libc);
  const openDatastore = () =>
    createDatastore(
      datastoreOptions({ ...cfg, networkPolicy: cfg.command === "run" && cfg.networkPolicy }, log),
    );

  if (cfg.command === "run") {
    const ac = new AbortController();
    const stop = () => {
      log.info("signal received; stopping");
      ac.abort();
    };
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
    const firewall = await createFirewallDriver(cfg.firewallBackend, exec);
    await runAgent({
      config: cfg,
      netlink,
      datastore: await openDatastore(),
      firewall,
      watchFirewall: (o) =>
        watchFirewall({
          ...o,
          ...firewallWatchDeps(libc, cfg),
          backend: firewall.name,
          clock,
          log,
        }),
      fs,
      clock,
      log,
      metrics: new Metrics(),
      signal: ac.signal,
      nft: new ExecNftJson({ exec }),
      guardNft: new ExecNft({ exec, timeoutMs: 10_000, program: findNft() }),
      openWatch: denoWatch,
      libc,
      canEnterPods: () => hasEffectiveCapability(libc, CAP_SYS_ADMIN),
    });
    return 0;
  }
  const deps: CommandDeps = {
    config: cfg,
    netlink,
    fs,
    clock,
    log,
    openDatastore,
    firewall: (b) => createFirewallDriver(b, exec),
    print: out,
    nft: new ExecNftJson({ exec }),
  };
  switch (cfg.command) {
    case "install":
      return await installCommand(deps);
    case "uninstall":
      return await uninstallCommand(deps);
    case "status":
      return await statusCommand(deps);
  }
}

async function policyMain(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out(POLICY_USAGE + "\n");
    return 0;
  }
  let parsed: ReturnType<typeof parsePolicyArgs>;
  try {
    parsed = parsePolicyArgs(argv, { env: Deno.env.toObject(), hostname: Deno.hostname() });
  } catch (e) {
    err(`${(e as Error).message}\n\n${POLICY_USAGE}\n`);
    return 2;
  }
  const cfg = parsed.config;
  const log = createLogger({ level: "warn", format: cfg.logFormat });
  const ds = await createDatastore(datastoreOptions({ ...cfg, networkPolicy: true }, log));
  return await policyExplain(ds, parsed.query, out);
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    err(`hostgate-agent: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  }
  Deno.exit(code);
}
