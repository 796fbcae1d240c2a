// An _os_ test: grpc-js reads its environment (GRPC_VERBOSITY) when loaded.
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { sharedChannelOptions, SharedChannels } from "./channel.ts";

interface TestHost {
  getServiceClient(name: string): {
    getChannel(): { getConnectivityState(tryToConnect: boolean): number };
  };
  resetAllServices(): void;
}
const SHUTDOWN = 4; // grpc-js connectivityState.SHUTDOWN
const READY = 2;

Deno.test(
  "shared channels: every service client of an endpoint uses one channel that resets do not close",
  {
    // grpc-js reads its proxy settings from the environment when a channel is made.
    permissions: { env: true },
  },
  () => {
    const grpcOptions = sharedChannelOptions({ initialMs: 200, maxMs: 1000 });
    const client = new Etcd3({ hosts: ["http://127.0.0.1:1", "http://127.0.0.1:2"], grpcOptions });
    const shared = SharedChannels.attach(client, grpcOptions);
    try {
      const hosts = (client as unknown as { pool: { hosts: TestHost[] } }).pool.hosts;
      assert.equal(shared.size, 0, "no channel before a service is used");
      const kv = hosts[0]!.getServiceClient("KV").getChannel();
      hosts[0]!.getServiceClient("Watch");
      hosts[0]!.getServiceClient("Lease");
      assert.equal(shared.size, 1, "KV, Watch and Lease of one endpoint share one channel");
      hosts[0]!.resetAllServices(); // what etcd3 does after every recoverable error
      hosts[0]!.getServiceClient("KV");
      assert.equal(shared.size, 1, "a reset makes no new channel");
      assert.notEqual(kv.getConnectivityState(false), SHUTDOWN, "a reset leaves the channel open");
      hosts[1]!.getServiceClient("KV");
      assert.equal(shared.size, 2, "one channel per endpoint");
    } finally {
      client.close();
      shared.close();
    }
    assert.equal(shared.size, 0);
  },
);

Deno.test("shared channels: a client that is not an etcd3 client is refused", {
  permissions: "none",
}, () => {
  assert.throws(
    () => SharedChannels.attach({} as unknown as Etcd3, {}),
    /Cannot share an etcd channel/,
  );
});

/** A plaintext HTTP/2 server on loopback: enough for a grpc-js channel to turn READY. */
async function withH2Server(fn: (port: number) => Promise<void>): Promise<void> {
  const http2 = await import("node:http2");
  const server = http2.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    await fn((server.address() as { port: number }).port);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

Deno.test(
  "shared channels: untilReady ends when a channel connects, not before; at once on abort",
  { permissions: { env: true, net: ["127.0.0.1"], read: true } },
  async () => {
    await withH2Server(async (port) => {
      const grpcOptions = sharedChannelOptions({ initialMs: 50, maxMs: 100 });
      const client = new Etcd3({ hosts: [`http://127.0.0.1:${port}`], grpcOptions });
      const shared = SharedChannels.attach(client, grpcOptions);
      try {
        const hosts = (client as unknown as { pool: { hosts: TestHost[] } }).pool.hosts;
        const ch = hosts[0]!.getServiceClient("KV").getChannel();
        const woke = shared.untilReady(60_000);
        ch.getConnectivityState(true); // dial, as a call would
        await woke;
        assert.equal(ch.getConnectivityState(false), READY, "woken by the connection");
        // READY already: only a new connection ends the wait; an abort ends it at once.
        let ended = false;
        const abort = new AbortController();
        const wait = shared.untilReady(60_000, abort.signal).then(() => (ended = true));
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(ended, false, "a channel READY before the wait does not end it");
        abort.abort();
        await wait;
        assert.equal(ended, true);
      } finally {
        client.close();
        shared.close();
      }
    });
  },
);
