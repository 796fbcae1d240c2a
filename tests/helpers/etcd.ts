/**
 * A real etcd (Debian's `etcd` binary) for integration tests: one member on
 * 127.0.0.1 with free random ports and a temp data dir. It can be stopped and
 * restarted on the same ports and data (to test watch resume), and `withEtcd`
 * always kills it and removes the data dir, even when the test fails.
 * Loopback only; nothing here changes the machine's network configuration.
 * @module
 */

/** A running (or stopped) etcd member started by a test. */
export interface EtcdFixture {
  /** Client URLs, e.g. ["http://127.0.0.1:41234"]. Stable across restarts. */
  readonly endpoints: string[];
  readonly dataDir: string;
  /** True while the process runs. */
  readonly running: boolean;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
  /** Starts it again with the same data dir and ports, waiting until healthy. */
  restart(): Promise<void>;
  /** Last lines of etcd's output, for failure messages. */
  log(): string;
  /** Stops it and removes the data dir. Idempotent. */
  dispose(): Promise<void>;
}

/** Options of `startEtcd`. */
export interface StartEtcdOptions {
  /** Member name; default "hgds". */
  name?: string;
  /** The binary; default "etcd" from PATH. */
  binary?: string;
  /** How long to wait for /health; default 15 s. */
  readyTimeoutMs?: number;
}

/** `n` free TCP ports on 127.0.0.1, chosen by the kernel. */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    const body = await res.text();
    return res.ok && body.includes('"health":"true"');
  } catch {
    return false;
  }
}

class Member implements EtcdFixture {
  readonly endpoints: string[];
  readonly dataDir: string;
  readonly #root: string;
  readonly #argv: string[];
  readonly #binary: string;
  readonly #readyTimeoutMs: number;
  #child: Deno.ChildProcess | undefined;
  #drain: Promise<void> | undefined;
  #log: string[] = [];
  #disposed = false;

  constructor(root: string, opts: StartEtcdOptions) {
    this.#root = root;
    this.dataDir = `${root}/data`;
    this.#binary = opts.binary ?? "etcd";
    this.#readyTimeoutMs = opts.readyTimeoutMs ?? 15_000;
    const name = opts.name ?? "hgds";
    const [client, peer] = freePorts(2) as [number, number];
    const clientUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    this.endpoints = [clientUrl];
    this.#argv = [
      `--name=${name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-level=warn",
    ];
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  log(): string {
    return this.#log.join("").slice(-4000);
  }

  async start(): Promise<void> {
    if (this.#child) return;
    const child = new Deno.Command(this.#binary, {
      args: this.#argv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#drain = Promise.all([this.#collect(child.stdout), this.#collect(child.stderr)])
      .then(() => {});
    const deadline = Date.now() + this.#readyTimeoutMs;
    while (!(await healthy(this.endpoints[0]!))) {
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `Cannot start etcd: not healthy after ${this.#readyTimeoutMs} ms\n${this.log()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      this.#log.push(dec.decode(chunk));
      if (this.#log.length > 200) this.#log.splice(0, 100);
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, 5000);
    try {
      await child.status;
    } finally {
      clearTimeout(killer);
    }
    await this.#drain;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.stop();
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }
}

/** Starts one etcd member; the caller must `dispose()` it (prefer `withEtcd`). */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdFixture> {
  const root = await Deno.makeTempDir({ prefix: "hgds-etcd-" });
  // A port picked free can be taken before etcd binds it: retry with new ports.
  for (let attempt = 1;; attempt++) {
    const m = new Member(root, opts);
    try {
      await m.start();
      return m;
    } catch (e) {
      await m.stop();
      await Deno.remove(m.dataDir, { recursive: true }).catch(() => {});
      if (attempt >= 3) {
        await Deno.remove(root, { recursive: true }).catch(() => {});
        throw e;
      }
    }
  }
}

/** Runs `fn` with a fresh etcd and always disposes of it afterwards. */
export async function withEtcd<T>(
  fn: (etcd: EtcdFixture) => Promise<T>,
  opts: StartEtcdOptions = {},
): Promise<T> {
  const etcd = await startEtcd(opts);
  try {
    return await fn(etcd);
  } finally {
    await etcd.dispose();
  }
}

/** A TCP relay in front of etcd whose connections a test can cut, to simulate a network break. */
export interface TcpProxy {
  /** "http://127.0.0.1:<port>", stable across cut/restore. */
  readonly endpoint: string;
  /** Closes every relayed connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port. */
  restore(): void;
  /** Cuts and stops for good. */
  close(): Promise<void>;
}

async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch {
    // the other side went away or the test cut the link
  }
  try {
    await to.closeWrite();
  } catch {
    // already closed
  }
}

/** Starts a relay from a free loopback port to `target` ("http://127.0.0.1:2379"). */
export function startTcpProxy(target: string): TcpProxy {
  const url = new URL(target);
  const to = { hostname: url.hostname, port: Number(url.port) };
  const port = freePorts(1)[0]!;
  const conns = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  let listener: Deno.Listener | undefined;
  let acceptLoop: Promise<void> = Promise.resolve();

  const relay = async (client: Deno.Conn) => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect(to);
    } catch {
      client.close();
      return;
    }
    if (!listener) { // cut while connecting
      client.close();
      upstream.close();
      return;
    }
    conns.add(client);
    conns.add(upstream);
    await Promise.all([pump(client, upstream), pump(upstream, client)]);
    for (const c of [client, upstream]) {
      if (conns.delete(c)) {
        try {
          c.close();
        } catch {
          // closed by cut()
        }
      }
    }
  };

  const listen = () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port });
    listener = l;
    acceptLoop = (async () => {
      try {
        for await (const c of l) {
          const s = relay(c).finally(() => sessions.delete(s));
          sessions.add(s);
        }
      } catch {
        // listener closed
      }
    })();
  };

  const cut = async () => {
    listener?.close();
    listener = undefined;
    await acceptLoop;
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    conns.clear();
    await Promise.all([...sessions]);
  };

  listen();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut,
    restore: () => {
      if (!listener) listen();
    },
    close: cut,
  };
}
