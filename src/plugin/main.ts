/**
 * Entry point of the `hostgate` CNI plugin binary (dist/bundle/hostgate).
 * The only place with process I/O: reads the environment and stdin, builds
 * the real dependencies, runs `dispatch`, writes its stdout, exits with its
 * code. Logs go to stderr (or the config's logFile), never to stdout.
 *
 * A runtime may call VERSION before every ADD (podman does, three times), so
 * this module answers it with nothing but the version table, and for any
 * other command imports that command's program (src/plugin/program/) alone:
 * a VERSION, STATUS or DEL neither loads nor compiles the ADD path.
 * @module
 */
// First import: its top level is the first line of the program that runs.
import { MODULE_START, openTracer, type Tracer } from "./trace.ts";
import { versionInfo } from "../cni/version.ts";
import { readStdin, stderrSink, writeStdout } from "./stdio.ts";
import { agentSocketOf } from "./remote/socket_path.ts";
import { forwardedEnv } from "./remote/frame.ts";
import { callAgent, tryAgainError } from "./remote/client.ts";

/**
 * True for a VERSION call this module answers alone. With CNI_ARGS set the
 * call goes the whole way (dispatch parses CNI_ARGS even for VERSION, and a
 * malformed one is an error there), so both paths answer alike.
 */
function plainVersion(): boolean {
  return Deno.env.get("CNI_COMMAND") === "VERSION" && !Deno.env.get("CNI_ARGS");
}

async function main(): Promise<number> {
  // Leave the module's top-level frame before any work: V8 captures a stack
  // for every Error (a "not found" from the kernel or the file system is a
  // normal answer here), and a frame without source positions is re-parsed to
  // get them. With the top-level frame on the stack that is the whole bundle,
  // ~1 ms of CPU; after one await the stack holds only small functions.
  await Promise.resolve();
  const trace = openTracer(Deno.env.get("HOSTGATE_TRACE"));
  trace.add("evaluate modules", MODULE_START, performance.now());
  if (plainVersion()) {
    trace.span("write result", () => writeStdout(JSON.stringify(versionInfo()) + "\n"));
    trace.flush({ cmd: "VERSION" });
    return 0;
  }
  const stdin = trace.span("read stdin", readStdin);
  const socket = agentSocketOf(stdin);
  if (socket) {
    const code = await trace.span("agent call", () => viaAgent(socket, stdin));
    if (code !== undefined) {
      trace.flush({ cmd: Deno.env.get("CNI_COMMAND") ?? "", agent: true });
      // Answered (stdout is written synchronously): exit now. This process
      // compiled only the small entry, whose code cache is not worth the
      // runtime's teardown (~1.5 ms of CPU and ~2.5 ms per call, measured).
      Deno.exit(code);
    }
  }
  const program = await trace.span("import the command's program", () => loadProgram());
  return await program.start(trace, stdin);
}

/**
 * The call run by the node's agent (src/plugin/remote/): its exit code, or
 * undefined when no agent listens and the call runs in this process.
 */
async function viaAgent(socket: string, stdin: string): Promise<number | undefined> {
  try {
    const answer = await callAgent({
      socket,
      request: { env: forwardedEnv(Deno.env.toObject()), stdin },
    });
    if (!answer) return undefined;
    if (answer.declined !== undefined) {
      if (Deno.env.get("HOSTGATE_LOG_LEVEL") === "debug") {
        stderrSink(`hostgate: the agent declined the call (${answer.declined}); running it here\n`);
      }
      return undefined;
    }
    if (answer.stderr) stderrSink(answer.stderr);
    writeStdout(answer.stdout);
    return answer.exitCode;
  } catch (e) {
    stderrSink(`hostgate: ${(e as Error).message}\n`);
    writeStdout(tryAgainError((e as Error).message, stdin));
    return 1;
  }
}

/**
 * The one program this call runs. One dynamic import per call: Deno's
 * dynamic import costs ~0.7 ms per module it brings in (measured; a static
 * one ~0.1 ms), so each program is a single self-contained file in the
 * bundle, and nothing else is imported after it.
 */
function loadProgram(): Promise<{ start(trace: Tracer, stdin?: string): Promise<number> }> {
  switch (Deno.env.get("CNI_COMMAND")) {
    case "ADD":
      return import("./program/add.ts");
    case "DEL":
      return import("./program/del.ts");
    case "CHECK":
      return import("./program/check.ts");
    case "GC":
      return import("./program/gc.ts");
    default:
      return import("./program/status.ts");
  }
}

// The process ends by itself (except an answer relayed from the agent), not with Deno.exit: Deno stores the V8 code
// cache of a script it has just compiled in the background, and Deno.exit
// cuts that short (measured: VERSION, STATUS and CHECK, whose calls are all
// synchronous, never stored it, so every call compiled the whole bundle).
// Nothing of the plugin's outlives main(): no timer, no pending op.
if (import.meta.main) Deno.exitCode = await main();
