// An _os_ test: grpc-js reads its environment (GRPC_VERBOSITY) when loaded.
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { sharedChannelOptions, SharedChannels } from "./channel.ts";

interface TestHost {
  getServiceClient(name: string): { getChannel(): { getConnectivityState(x: boolean): number } };
  resetAllServices(): void;
}
const SHUTDOWN = 4; // grpc-js connectivityState.SHUTDOWN

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
