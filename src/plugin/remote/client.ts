/**
 * The plugin as a thin client: when its config names the node agent's
 * socket (`agentSocket`, written by the agent into the conflist it
 * installs), the call goes to the agent, which runs the same handlers in
 * its long-lived, already compiled process. The plugin process then only
 * starts Deno, reads stdin and relays: it neither loads nor compiles a
 * command's program, which is most of a call's CPU after Deno's own start.
 *
 * No agent listening (no socket file, or a stale one) is not an error: the
 * call runs in-process as before, so a node without its agent, or with the
 * agent restarting, still gets pods. Once the agent has taken a call, its
 * answer is final: a lost or late answer is error 11 (try again later),
 * never a second in-process run racing the agent's.
 * @module
 */
import { encodeError } from "../../cni/errors.ts";
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from "../../cni/version.ts";
import { CniCode, CniError } from "../../errors.ts";
import { readFrame, writeAll } from "./conn_io.ts";
import {
  decodeAnswer,
  encodeRequest,
  MAX_ANSWER_BYTES,
  type RemoteAnswer,
  type RemoteRequest,
} from "./frame.ts";

/** Default wait for the agent's answer; a runtime's own CNI timeout is usually longer. */
export const DEFAULT_ANSWER_TIMEOUT_MS = 120_000;

/** Options of `callAgent`. */
export interface CallAgentOptions {
  socket: string;
  request: RemoteRequest;
  timeoutMs?: number;
  /** Opens the connection (tests pass their own). */
  connect?: (path: string) => Promise<Deno.Conn>;
}

function connectUnix(path: string): Promise<Deno.Conn> {
  return Deno.connect({ transport: "unix", path });
}

/**
 * Hands the call to the agent. Undefined when no agent listens at the
 * socket (run in-process); throws `Cannot ...` when an agent took the call
 * and no valid answer came back.
 */
export async function callAgent(opts: CallAgentOptions): Promise<RemoteAnswer | undefined> {
  let conn: Deno.Conn;
  try {
    conn = await (opts.connect ?? connectUnix)(opts.socket);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
      return undefined;
    }
    throw new Error(`Cannot reach the agent at ${opts.socket}: ${(e as Error).message}`);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  let timedOut = false;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed by the peer
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    close();
  }, timeoutMs);
  try {
    await writeAll(conn, encodeRequest(opts.request));
    return decodeAnswer(await readFrame(conn, MAX_ANSWER_BYTES, "agent's answer"));
  } catch (e) {
    if (timedOut) throw new Error(`Cannot get the agent's answer: none within ${timeoutMs} ms`);
    throw new Error(`Cannot get the agent's answer: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
    close();
  }
}

/**
 * The CNI error (code 11, try again later) for a call the agent took but did
 * not answer: the runtime retries, and every step is idempotent.
 */
export function tryAgainError(msg: string, stdin: string): string {
  let version = CURRENT_VERSION;
  try {
    const v = (JSON.parse(stdin) as Record<string, unknown>)["cniVersion"];
    if (typeof v === "string" && SUPPORTED_VERSIONS.includes(v)) version = v;
  } catch {
    // the agent parsed it; keep the current version
  }
  const err = new CniError(
    CniCode.TryAgainLater,
    msg,
    "the node agent took the call but gave no answer; retrying is safe (every step is idempotent)",
  );
  return JSON.stringify(encodeError(err, version)) + "\n";
}
