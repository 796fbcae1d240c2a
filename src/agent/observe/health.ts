/**
 * /healthz, /readyz and /metrics over HTTP (Deno.serve). Liveness says the
 * loop is turning; readiness says routes, rules and conflist are in place and
 * the datastore is connected (with the reasons when not); metrics are the
 * Prometheus text of the registry.
 * @module
 */

/** What the server reports. */
export interface HealthSource {
  /** True while the reconcile loop is making progress. */
  live(): boolean;
  /** Readiness and, when false, why. */
  ready(): { ready: boolean; reasons: string[] };
  /** Prometheus text. */
  metrics(): string;
}

/** A running health server. */
export interface HealthServer {
  /** The bound address ("127.0.0.1:9099"; the real port when 0 was asked). */
  addr: string;
  /** Resolves when the server has stopped (after the signal aborts). */
  finished: Promise<void>;
}

/** The HTTP statuses the health server answers with. */
const STATUS = { ok: 200, notFound: 404, methodNotAllowed: 405, unavailable: 503 } as const;

/** Handles one request; exported for tests without a socket. */
export function handleHealth(req: Request, src: HealthSource): Response {
  const path = new URL(req.url).pathname;
  const text = (status: number, body: string, type = "text/plain; charset=utf-8") =>
    new Response(body, { status, headers: { "content-type": type } });
  if (req.method !== "GET" && req.method !== "HEAD") {
    return text(STATUS.methodNotAllowed, "method not allowed\n");
  }
  switch (path) {
    case "/healthz":
      return src.live()
        ? text(STATUS.ok, "ok\n")
        : text(STATUS.unavailable, "reconcile loop stalled\n");
    case "/readyz": {
      const r = src.ready();
      return r.ready
        ? text(STATUS.ok, "ok\n")
        : text(STATUS.unavailable, r.reasons.map((x) => `${x}\n`).join(""));
    }
    case "/metrics":
      return text(STATUS.ok, src.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    default:
      return text(STATUS.notFound, "not found\n");
  }
}

/** Starts the server on `addr` ("host:port"); stops when `signal` aborts. */
export function serveHealth(
  opts: { addr: string; source: HealthSource; signal: AbortSignal },
): Promise<HealthServer> {
  const { hostname, port } = parseHostPort(opts.addr);
  try {
    // onListen replaced so Deno prints nothing on stdout.
    const server = Deno.serve(
      { hostname, port, signal: opts.signal, onListen: () => {} },
      (req) => handleHealth(req, opts.source),
    );
    const a = server.addr;
    const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
    return Promise.resolve({ addr: `${host}:${a.port}`, finished: server.finished });
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Splits "127.0.0.1:9099" or "[::1]:9099" into hostname and port (an empty
 * host means every address); throws when `addr` is not host:port.
 */
export function parseHostPort(addr: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`is not host:port: ${addr}`);
  const port = Number(m[3]);
  if (port > MAX_PORT) throw new Error(`port too large: ${addr}`);
  return { hostname: m[1] ?? (m[2] || ANY_ADDRESS), port };
}

/** The largest TCP port. */
const MAX_PORT = 65535;
/** The listen address of a health address with an empty host. */
const ANY_ADDRESS = "0.0.0.0";
