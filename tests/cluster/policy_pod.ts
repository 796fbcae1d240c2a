/**
 * What runs inside a pod of the NetworkPolicy suite, two modes:
 *   serve: answers TCP on the given ports (one line, then close) and UDP on
 *          the given ports (echoes each datagram); prints "listening" once up.
 *   probe: tries every target in parallel (TCP connect and read a line, UDP
 *          send and wait for the echo), each with a timeout, and prints one
 *          JSON object {key: true|false}.
 * Run with --allow-net inside a namespace (`ip netns exec`).
 * @module
 */
import dgram from "node:dgram";
import { parseArgs } from "node:util";

/** One probe target. */
export interface ProbeTarget {
  key: string;
  ip: string;
  port: number;
  protocol: "TCP" | "UDP";
}

const enc = new TextEncoder();

function serve(tcp: number[], udp: number[]): void {
  for (const port of tcp) {
    const l = Deno.listen({ hostname: "0.0.0.0", port });
    (async () => {
      for await (const c of l) {
        c.write(enc.encode(`ok ${port}\n`)).catch(() => {}).finally(() => {
          try {
            c.close();
          } catch {
            // gone
          }
        });
      }
    })();
  }
  for (const port of udp) {
    const s = dgram.createSocket("udp4");
    s.on("message", (msg, r) => s.send(msg, r.port, r.address));
    s.bind(port, "0.0.0.0");
  }
  console.log("listening");
}

function withTimeout<T>(p: Promise<T>, ms: number, onLate: (v: T) => void): Promise<T | undefined> {
  let done = false;
  return Promise.race([
    p.then((v) => {
      if (done) onLate(v);
      return v;
    }),
    new Promise<undefined>((r) =>
      setTimeout(() => {
        done = true;
        r(undefined);
      }, ms)
    ),
  ]);
}

async function tcpProbe(t: ProbeTarget, ms: number): Promise<boolean> {
  try {
    const conn = await withTimeout(
      Deno.connect({ hostname: t.ip, port: t.port }),
      ms,
      (c) => c.close(),
    );
    if (!conn) return false;
    try {
      const buf = new Uint8Array(64);
      const n = await withTimeout(conn.read(buf), ms, () => {});
      return typeof n === "number" && n > 0;
    } finally {
      try {
        conn.close();
      } catch {
        // gone
      }
    }
  } catch {
    return false;
  }
}

function udpProbe(t: ProbeTarget, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      try {
        s.close();
      } catch {
        // closed
      }
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on("message", () => finish(true));
    s.on("error", () => finish(false));
    s.send(`probe ${t.key}`, t.port, t.ip);
  });
}

async function probe(targets: ProbeTarget[], ms: number): Promise<void> {
  const results = await Promise.all(
    targets.map((t) => (t.protocol === "TCP" ? tcpProbe(t, ms) : udpProbe(t, ms))),
  );
  console.log(JSON.stringify(Object.fromEntries(targets.map((t, i) => [t.key, results[i]]))));
  Deno.exit(0);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      tcp: { type: "string", default: "80,81" },
      udp: { type: "string", default: "80,81,53" },
      targets: { type: "string", default: "[]" },
      "timeout-ms": { type: "string", default: "1000" },
    },
  });
  const ports = (s: string) => s.split(",").filter((x) => x !== "").map(Number);
  if (positionals[0] === "serve") serve(ports(values.tcp!), ports(values.udp!));
  else await probe(JSON.parse(values.targets!) as ProbeTarget[], Number(values["timeout-ms"]));
}
