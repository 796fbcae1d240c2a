/**
 * The `agentSocket` key of hostgate's config: the unix socket where the
 * node's agent serves plugin calls (the agent writes it into the conflist it
 * installs when it serves them). Shared by the shim, which reads it before
 * anything else is loaded, and by the config parser, which rejects a bad one
 * with error 7.
 * @module
 */

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** Why `v` is not a usable socket path, or undefined when it is. */
export function agentSocketProblem(v: unknown): string | undefined {
  if (typeof v !== "string") return "must be a string";
  if (!v.startsWith("/")) return "must be an absolute path";
  if (v.includes("\0")) return "must not contain NUL";
  if (new TextEncoder().encode(v).length > MAX_SOCKET_PATH) {
    return `must be at most ${MAX_SOCKET_PATH} bytes (a unix socket path)`;
  }
  return undefined;
}

/**
 * The agent socket a raw stdin names, or undefined (no key, an empty one, a
 * bad one, or stdin that is not a JSON object: the in-process path then
 * reports what is wrong with the config).
 */
export function agentSocketOf(stdin: string): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const v = (raw as Record<string, unknown>)["agentSocket"];
  if (v === undefined || v === null || v === "" || agentSocketProblem(v)) return undefined;
  return v as string;
}
