/**
 * A tiny TCP server for the simulated cluster: every connection is answered
 * with the peer address the server saw (one line) and closed. Run inside a
 * namespace (`ip netns exec <ns> deno run --allow-net echo_server.ts --port
 * 8080`), it shows where a packet arrives from: the outside sees a pod's
 * traffic masqueraded to the node IP, a pod sees another pod's own address.
 * Prints "listening <port>" on stdout once ready.
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "0.0.0.0" },
  },
});
const listener = Deno.listen({ hostname: values.host, port: Number(values.port) });
console.log(`listening ${(listener.addr as Deno.NetAddr).port}`);
const enc = new TextEncoder();
for await (const conn of listener) {
  const peer = conn.remoteAddr as Deno.NetAddr;
  conn.write(enc.encode(`${peer.hostname}\n`)).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  });
}
