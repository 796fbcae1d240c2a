/**
 * Entry point of `hostgate-agent`: parses the subcommand and its flags
 * (flag > environment > default), builds the real system objects and hands
 * them to the command. Exit codes: 0 ok, 1 failed (status: something not in
 * place), 2 bad usage.
 * @module
 */
import { RealClock } from "../../system/clock.ts";
import { RealExec } from "../../system/exec.ts";
import { RealFileSystem } from "../../system/fs.ts";
import { FfiNetlink } from "../../system/netlink/mod.ts";
import { createDatastore } from "../../datastore/mod.ts";
import type { AgentConfig } from "./agent_config.ts";
import { ConfigError, parseConfig } from "./config.ts";
import { commandHelp, usage } from "./options.ts";
import { datastoreOptions } from "./datastore_options.ts";
import { createFirewallDriver } from "../firewall/mod.ts";
import { createLogger, Metrics } from "../observe/mod.ts";
import { runAgent } from "./run.ts";
import { denoWatch } from "../reconcile/mod.ts";
import { type CommandDeps, installCommand, statusCommand, uninstallCommand } from "./commands.ts";

const enc = new TextEncoder();
const out = (s: string) => Deno.stdout.writeSync(enc.encode(s));
const err = (s: string) => Deno.stderr.writeSync(enc.encode(s));

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
  const netlink = new FfiNetlink();
  const openDatastore = () => createDatastore(datastoreOptions(cfg, log));

  if (cfg.command === "run") {
    const ac = new AbortController();
    const stop = () => {
      log.info("signal received; stopping");
      ac.abort();
    };
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
    await runAgent({
      config: cfg,
      netlink,
      datastore: await openDatastore(),
      firewall: await createFirewallDriver(cfg.firewallBackend, exec),
      fs,
      clock,
      log,
      metrics: new Metrics(),
      signal: ac.signal,
      openWatch: denoWatch,
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
