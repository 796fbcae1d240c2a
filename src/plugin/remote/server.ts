/**
 * The agent's plugin socket: a unix socket, root-only, where the node's
 * plugin processes hand over their calls (client.ts). One request and one
 * answer per connection. Each connection is bounded: a request over the cap,
 * malformed, or slower than the read deadline is dropped (the shim then
 * answers error 11 and the runtime retries); at most `maxCalls` calls run at
 * once, later connections are closed at once.
 * @module
 */
import type { Logger } from "../../system/log.ts";
import { readFrame, writeAll } from "./conn_io.ts";
import { agentSocketProblem } from "./socket_path.ts";
import {
  decodeRequest,
  encodeFrame,
  MAX_REQUEST_BYTES,
  type RemoteAnswer,
  type RemoteRequest,
} from "./frame.ts";

/** Options of `servePluginCalls`. */
export interface PluginServerOptions {
  /** Socket path; its folder is created 0700 when absent. */
  path: string;
  handle: (req: RemoteRequest) => Promise<RemoteAnswer>;
  log: Logger;
  signal: AbortSignal;
  /** A request must arrive whole within this (default 5 s). */
  readTimeoutMs?: number;
  /** Calls running at once (default 256). */
  maxCalls?: number;
  /** Counts each call by command and outcome ("ok", "error", "dropped"). */
  onCall?: (command: string, outcome: "ok" | "error" | "dropped") => void;
}

/** A listening plugin socket. */
export interface PluginServer {
  /** Resolves when the listener has stopped and the socket file is gone. */
  closed: Promise<void>;
}

async function prepare(path: string): Promise<void> {
  const why = serverSocketProblem(path);
  if (why) throw new Error(`Cannot serve plugin calls at ${path}: it ${why}`);
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  let st: Deno.FileInfo | undefined;
  try {
    st = await Deno.lstat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (st && !st.isSocket) {
    throw new Error(`Cannot serve plugin calls at ${path}: it exists and is not a socket`);
  }
  if (!st) return;
  // A socket file: a live agent's (refuse: two servers would split the calls) or one a killed
  // agent left (nobody accepts on it any more: replace it).
  let live: Deno.Conn | undefined;
  try {
    live = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (!(e instanceof Deno.errors.ConnectionRefused)) throw e;
  }
  if (live) {
    live.close();
    throw new Error(`Cannot serve plugin calls at ${path}: another process listens there`);
  }
  await Deno.remove(path);
}

/** Removes the socket file only while it is still the one this server made. */
async function removeOwn(path: string, ino: number | null): Promise<void> {
  const st = await Deno.lstat(path).catch(() => undefined);
  if (st && st.isSocket && st.ino === ino) await Deno.remove(path).catch(() => {});
}

/** Where the socket is bound before it is renamed into place: beside it, 14 bytes past the folder. */
function tempSocketPath(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
  return `${path.slice(0, path.lastIndexOf("/"))}/.${rand}.tmp`;
}

/**
 * Why the agent cannot serve at `path`, or undefined: a client's socket path
 * rule (socket_path.ts) plus room in sun_path for the temporary name.
 */
export function serverSocketProblem(path: string): string | undefined {
  const why = agentSocketProblem(path);
  if (why) return why;
  const folder = new TextEncoder().encode(path.slice(0, path.lastIndexOf("/"))).length;
  if (folder + 14 > 107) return "must be in a folder of at most 93 bytes";
  return undefined;
}

/** Listens at `opts.path` until `opts.signal` aborts. */
export async function servePluginCalls(opts: PluginServerOptions): Promise<PluginServer> {
  await prepare(opts.path);
  // Bound under a temporary name, made root-only, then renamed into place: nobody can connect
  // before the mode is set, and Deno's unlink of the bound path at close then hits the temporary
  // name, never a successor's socket at `path` (removeOwn below checks the inode instead).
  const temp = tempSocketPath(opts.path);
  const listener = Deno.listen({ transport: "unix", path: temp });
  let ino: number | null;
  try {
    await Deno.chmod(temp, 0o600);
    ino = (await Deno.lstat(temp)).ino;
    await Deno.rename(temp, opts.path);
  } catch (e) {
    listener.close();
    throw e;
  }
  const maxCalls = opts.maxCalls ?? 256;
  const readTimeoutMs = opts.readTimeoutMs ?? 5_000;
  let running = 0;
  const stop = () => {
    try {
      listener.close();
    } catch {
      // already closed
    }
  };
  opts.signal.addEventListener("abort", stop, { once: true });
  const serveOne = async (conn: Deno.Conn) => {
    let command = "";
    const timer = setTimeout(() => conn.close(), readTimeoutMs);
    let req: RemoteRequest;
    try {
      req = decodeRequest(await readFrame(conn, MAX_REQUEST_BYTES, "request"));
      command = req.env["CNI_COMMAND"] ?? "";
    } catch (e) {
      opts.log.warn("plugin socket: request dropped", { error: (e as Error).message });
      opts.onCall?.(command, "dropped");
      return;
    } finally {
      clearTimeout(timer);
    }
    let answer: RemoteAnswer;
    try {
      answer = await opts.handle(req);
    } catch (e) {
      // dispatch never throws; a failure here is the executor's own.
      opts.log.error("plugin socket: call failed", { command, error: (e as Error).message });
      opts.onCall?.(command, "dropped");
      return;
    }
    opts.onCall?.(command, answer.exitCode === 0 ? "ok" : "error");
    try {
      await writeAll(conn, encodeFrame(answer));
    } catch (e) {
      opts.log.warn("plugin socket: answer lost", { command, error: (e as Error).message });
    }
  };
  const accept = async () => {
    try {
      for await (const conn of listener) {
        if (running >= maxCalls) {
          conn.close();
          opts.onCall?.("", "dropped");
          continue;
        }
        running++;
        serveOne(conn).finally(() => {
          running--;
          try {
            conn.close();
          } catch {
            // closed by the read deadline
          }
        });
      }
    } catch (e) {
      if (!opts.signal.aborted) {
        opts.log.error("plugin socket: listener failed", { error: (e as Error).message });
      }
    } finally {
      opts.signal.removeEventListener("abort", stop);
      stop();
      await removeOwn(opts.path, ino);
    }
  };
  return { closed: accept() };
}
