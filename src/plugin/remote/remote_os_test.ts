import assert from "node:assert/strict";
import { createLogger } from "../../system/log.ts";
import { callAgent, tryAgainError } from "./client.ts";
import { queuedLocks } from "./executor.ts";
import type { RemoteAnswer, RemoteRequest } from "./frame.ts";
import { servePluginCalls } from "./server.ts";

interface Harness {
  path: string;
  seen: RemoteRequest[];
  outcomes: string[];
  stop(): Promise<void>;
}

async function serve(
  handle?: (req: RemoteRequest) => Promise<RemoteAnswer>,
  extra: { readTimeoutMs?: number; maxCalls?: number } = {},
): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "hostgate-remote-" });
  const path = `${dir}/sock/plugin.sock`;
  const seen: RemoteRequest[] = [];
  const outcomes: string[] = [];
  const ac = new AbortController();
  const server = await servePluginCalls({
    path,
    handle: handle ?? (async (req) => {
      seen.push(req);
      await Promise.resolve();
      return {
        stdout: `{"echo":${JSON.stringify(req.env["CNI_CONTAINERID"] ?? "")}}\n`,
        exitCode: 0,
        stderr: "log line\n",
      };
    }),
    log: createLogger({ sink: () => {}, level: "error" }),
    signal: ac.signal,
    onCall: (cmd, outcome) => outcomes.push(`${cmd}:${outcome}`),
    ...extra,
  });
  return {
    path,
    seen,
    outcomes,
    stop: async () => {
      ac.abort();
      await server.closed;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Unix sockets in temp dirs (net: Deno checks unix socket paths as net access). */
const SOCKETS = { permissions: { read: true, write: true, net: true } };
/** The stale-socket test binds one itself through libc. */
const SOCKETS_FFI = { permissions: { read: true, write: true, net: true, ffi: true } };

const req = (id: string): RemoteRequest => ({
  env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: id },
  stdin: '{"cniVersion":"1.0.0"}',
});

Deno.test(
  "a call goes to the agent and its answer comes back whole, 20 at once",
  SOCKETS,
  async () => {
    const h = await serve();
    try {
      assert.equal((await Deno.stat(h.path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(h.path.slice(0, -12))).mode! & 0o777, 0o700);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => callAgent({ socket: h.path, request: req(`c${i}`) })),
      );
      for (const [i, a] of answers.entries()) {
        assert.deepEqual(a, { stdout: `{"echo":"c${i}"}\n`, exitCode: 0, stderr: "log line\n" });
      }
      assert.equal(h.seen.length, 20);
      assert.equal(h.outcomes.filter((o) => o === "ADD:ok").length, 20);
    } finally {
      await h.stop();
    }
    // Stopped: the socket file is gone and a call falls back.
    assert.equal(await Deno.stat(h.path).catch(() => undefined), undefined);
  },
);

Deno.test(
  "no agent, or a stale socket file, means the call runs in-process",
  SOCKETS_FFI,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      assert.equal(await callAgent({ socket: `${dir}/none.sock`, request: req("a") }), undefined);
      // A socket file nobody listens on any more (the agent was killed): bound, never listening.
      const stale = `${dir}/stale.sock`;
      const libc = Deno.dlopen("libc.so.6", {
        socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
        bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
        close: { parameters: ["i32"], result: "i32" },
      });
      try {
        const fd = libc.symbols.socket(1, /* AF_UNIX */ 1, /* SOCK_STREAM */ 0);
        const addr = new Uint8Array(110);
        new DataView(addr.buffer).setUint16(0, 1, true);
        addr.set(new TextEncoder().encode(stale), 2);
        assert.equal(libc.symbols.bind(fd, addr, addr.length), 0);
        libc.symbols.close(fd);
      } finally {
        libc.close();
      }
      assert.equal((await Deno.lstat(stale)).isSocket, true);
      assert.equal(await callAgent({ socket: stale, request: req("a") }), undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("a taken call without an answer is error 11, never a second run", SOCKETS, async () => {
  const h = await serve(() => new Promise(() => {})); // the agent wedges
  try {
    await assert.rejects(
      callAgent({ socket: h.path, request: req("w"), timeoutMs: 200 }),
      /Cannot get the agent's answer: none within 200 ms/,
    );
    const json = JSON.parse(
      tryAgainError("Cannot get the agent's answer: x", '{"cniVersion":"0.4.0"}'),
    );
    assert.equal(json.code, 11);
    assert.equal(json.cniVersion, "0.4.0");
  } finally {
    await h.stop().catch(() => {});
  }
});

Deno.test("hostile clients are dropped and the socket keeps serving", SOCKETS, async () => {
  const h = await serve(undefined, { readTimeoutMs: 300 });
  try {
    // Garbage, an oversize header, and a client that sends half a frame and stalls.
    const garbage = await Deno.connect({ transport: "unix", path: h.path });
    await garbage.write(new Uint8Array([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]));
    const big = await Deno.connect({ transport: "unix", path: h.path });
    await big.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    const slow = await Deno.connect({ transport: "unix", path: h.path });
    await slow.write(new Uint8Array([0, 0, 0, 50, 0x7b]));
    for (const c of [garbage, big, slow]) {
      const n = await c.read(new Uint8Array(16)).catch(() => null);
      assert.equal(n, null, "the server closes without an answer");
      c.close();
    }
    assert.equal(h.outcomes.filter((o) => o.endsWith(":dropped")).length, 3);
    const a = await callAgent({ socket: h.path, request: req("after") });
    assert.equal(a?.stdout, '{"echo":"after"}\n');
  } finally {
    await h.stop();
  }
});

Deno.test(
  "a live server is never displaced; a stopped one never removes its successor's socket",
  SOCKETS,
  async () => {
    const first = await serve();
    try {
      await assert.rejects(
        servePluginCalls({
          path: first.path,
          handle: () => Promise.reject(new Error("unused")),
          log: createLogger({ sink: () => {} }),
          signal: new AbortController().signal,
        }),
        /Cannot serve plugin calls at .*: another process listens there/,
      );
      const a = await callAgent({ socket: first.path, request: req("still") });
      assert.equal(a?.stdout, '{"echo":"still"}\n', "the first server still answers");
    } finally {
      await first.stop();
    }
    // A successor bound after the first stopped: the first's late cleanup leaves it alone.
    const dir = await Deno.makeTempDir();
    const path = `${dir}/plugin.sock`;
    const ac1 = new AbortController(), ac2 = new AbortController();
    const quiet = createLogger({ sink: () => {} });
    const handle = (r: RemoteRequest) =>
      Promise.resolve({ stdout: r.env["CNI_CONTAINERID"] ?? "", exitCode: 0, stderr: "" });
    try {
      const old = await servePluginCalls({ path, handle, log: quiet, signal: ac1.signal });
      await Deno.remove(path); // as if the successor replaced it while the old one still runs
      const next = await servePluginCalls({ path, handle, log: quiet, signal: ac2.signal });
      ac1.abort();
      await old.closed;
      assert.equal((await Deno.lstat(path)).isSocket, true, "the successor's socket stays");
      assert.equal((await callAgent({ socket: path, request: req("next") }))?.stdout, "next");
      ac2.abort();
      await next.closed;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("a file that is not a socket is never replaced", SOCKETS, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plugin.sock`, "keep");
    await assert.rejects(
      servePluginCalls({
        path: `${dir}/plugin.sock`,
        handle: () => Promise.reject(new Error("unused")),
        log: createLogger({ sink: () => {} }),
        signal: new AbortController().signal,
      }),
      /Cannot serve plugin calls at .*: it exists and is not a socket/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/plugin.sock`), "keep");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in-process lock queue: one flock per file, handed over in order", SOCKETS, async () => {
  const dir = await Deno.makeTempDir();
  try {
    let flocks = 0;
    const order: number[] = [];
    const lock = queuedLocks(async (p) => {
      flocks++;
      const f = await Deno.open(p, { read: true, write: true, create: true });
      await f.lock(true);
      return async () => {
        await f.unlock();
        f.close();
      };
    });
    let inside = 0;
    await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const unlock = await lock(`${dir}/lock`);
      inside++;
      assert.equal(inside, 1, "one holder at a time");
      order.push(i);
      await new Promise((r) => setTimeout(r, 2));
      inside--;
      await unlock();
    }));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(flocks, 8);
    // A failing lock releases the queue.
    const failing = queuedLocks(() => Promise.reject(new Error("Cannot lock: gone")));
    await assert.rejects(failing("x"), /gone/);
    await assert.rejects(failing("x"), /gone/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
