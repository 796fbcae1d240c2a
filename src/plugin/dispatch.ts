/**
 * The plugin's boundary, in the style of libcni's skel: environment and
 * stdin in, typed arguments to one handler per command, and the one place
 * where any error becomes CNI error JSON (`{cniVersion, code, msg,
 * details}`, exit 1). Pure of I/O itself: main.ts reads and writes.
 * @module
 */
import {
  configVersion,
  CURRENT_VERSION,
  decodeStdin,
  encodeError,
  encodeResult,
  mergeResults,
  parseEnv,
  SUPPORTED_VERSIONS,
} from "../cni/mod.ts";
import { CniCode, CniError } from "../errors.ts";
import { cmdVersion } from "./commands/version.ts";
import type { CommandContext, CommandTable, PluginDeps } from "./deps.ts";
import { messageOf, toCniError } from "./failure.ts";
import { parseNetConf } from "./netconf.ts";

/** What the runtime handed the plugin. */
export interface PluginInput {
  /** The environment (only CNI_* is read). */
  env: Record<string, string | undefined>;
  stdin: string;
}

/** What the plugin hands back: stdout text and the exit code. */
export interface PluginOutput {
  stdout: string;
  exitCode: number;
}

/** The CNI error object for `e`, in `cniVersion`. */
export function errorJson(e: unknown, cniVersion: string): Record<string, unknown> {
  return encodeError(toCniError(e), cniVersion);
}

function json(v: unknown): string {
  return JSON.stringify(v) + "\n";
}

/**
 * Runs one plugin invocation. Never throws: every failure is an error
 * object on stdout with exit code 1, logged to the logger as well.
 *
 * The handlers come in `deps.commands`: a plugin process loads only its
 * command's (main.ts), so a DEL, CHECK or STATUS never loads the ADD path.
 */
export async function dispatch(input: PluginInput, deps: PluginDeps): Promise<PluginOutput> {
  let version = CURRENT_VERSION;
  let log = deps.log;
  const started = deps.clock.monotonic();
  const span = deps.trace?.span ?? (<T>(_name: string, fn: () => T): T => fn());
  try {
    const env = parseEnv(input.env);
    if (env.command === "VERSION") return { stdout: json(cmdVersion()), exitCode: 0 };
    const conf = span("parse config", () => {
      const raw = decodeStdin(input.stdin);
      const requested = configVersion(raw);
      if (SUPPORTED_VERSIONS.includes(requested)) version = requested;
      return parseNetConf(raw, env.command);
    });
    if (deps.openLog && (conf.logFile || conf.logLevel)) {
      log = deps.openLog({ file: conf.logFile, level: conf.logLevel });
    }
    if (env.netns !== "" && deps.isOwnNetns?.(env.netns)) {
      throw new CniError(
        CniCode.InvalidEnvironment,
        `Cannot use CNI_NETNS ${env.netns}: it is the plugin's own network namespace`,
        "a pod's netns is never the node's; nothing was changed",
      );
    }
    const makeIpam = () => deps.ipam({ conf, env, rawEnv: input.env, stdin: input.stdin }, deps);
    let stdout = "";
    const handler = <K extends keyof CommandTable>(k: K): NonNullable<CommandTable[K]> => {
      const h = deps.commands[k];
      if (!h) throw new Error(`Cannot run ${k}: its handler is not loaded in this process`);
      return h;
    };
    if (env.command === "DEL") {
      // DEL builds its IPAM backend itself, once the kernel is busy removing the veth.
      await handler("DEL")({ env, conf, deps, log, ipam: makeIpam });
    } else {
      const ctx: CommandContext = { env, conf, deps, log, ipam: makeIpam() };
      switch (env.command) {
        case "ADD": {
          const ours = await handler("ADD")(ctx);
          const result = conf.prevResult ? mergeResults(conf.prevResult, ours) : ours;
          stdout = span("encode result", () => json(encodeResult(result, conf.cniVersion)));
          break;
        }
        case "CHECK":
        case "GC":
        case "STATUS":
          await handler(env.command)(ctx);
          break;
      }
    }
    log.info(`${env.command} done`, {
      containerId: env.containerId,
      ifname: env.ifname,
      ms: Math.round(deps.clock.monotonic() - started),
    });
    return { stdout, exitCode: 0 };
  } catch (e) {
    const out = errorJson(e, version);
    const level = e instanceof CniError || out["code"] !== CniCode.Internal ? "warn" : "error";
    log[level]("command failed", {
      code: out["code"],
      error: messageOf(e),
      stack: level === "error" && e instanceof Error ? e.stack : undefined,
    });
    return { stdout: json(out), exitCode: 1 };
  }
}
