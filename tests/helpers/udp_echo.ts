/**
 * UDP test peers for the hostPort tests (run with --unstable-net inside a
 * netns). `server --port P --tag T`: answers every datagram with T.
 * `client --to IP --port P --from-port Q --want T`: sends from the fixed local
 * port Q (one conntrack 5-tuple, like a long-lived DNS client) once per
 * 200 ms until an answer equals T, prints it and exits 0, or exits 1 after
 * --tries.
 * @module
 */
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: "string", default: "53" },
    tag: { type: "string", default: "pong" },
    to: { type: "string", default: "127.0.0.1" },
    "from-port": { type: "string", default: "40000" },
    want: { type: "string", default: "pong" },
    tries: { type: "string", default: "25" },
  },
});
const enc = new TextEncoder();
const dec = new TextDecoder();

if (positionals[0] === "server") {
  const sock = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port: Number(values.port),
  });
  console.log(`listening ${values.port}`);
  for await (const [, addr] of sock) await sock.send(enc.encode(values.tag), addr);
} else {
  const sock = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port: Number(values["from-port"]),
  });
  const to = { transport: "udp" as const, hostname: values.to, port: Number(values.port) };
  let last = "";
  // One receive in flight at a time: a datagram that arrives late still counts.
  let pending: Promise<string> | undefined;
  for (let i = 0; i < Number(values.tries); i++) {
    await sock.send(enc.encode("ping"), to);
    pending ??= sock.receive().then(([b]) => dec.decode(b));
    const got = await Promise.race([
      pending,
      new Promise<string>((r) => setTimeout(() => r(""), 200)),
    ]);
    if (got === values.want) {
      console.log(got);
      Deno.exit(0);
    }
    if (got) {
      last = got;
      pending = undefined;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  console.log(last || "(no answer)");
  Deno.exit(1);
}
