/**
 * Makes an in-process test apiserver (tests/helpers/apiserver.ts) reachable
 * from inside a network namespace: a second listener whose socket is created
 * while the calling thread is switched into the netns for that one
 * synchronous call (a socket belongs to the netns it was made in), answering
 * through `server.handle`. Plugin processes run in a node netns then reach
 * the server at 127.0.0.1 of their own netns, while the test keeps every
 * control of the server (failNext, barrier, setDown, the request log).
 * Nothing listens in, or changes, the root network namespace.
 * @module
 */
import { inNetns, openNetnsFd } from "../../src/system/netlink/netns.ts";
import { openLibc } from "../../src/system/netlink/libc.ts";
import type { ApiServer } from "./apiserver.ts";

/** A listener of a server inside one netns. */
export interface NetnsListener {
  /** "http://127.0.0.1:PORT", valid inside the netns only. */
  url: string;
  port: number;
  /** Stops listening (new connections are refused); idempotent. */
  close(): Promise<void>;
}

/** Serves `server` on 127.0.0.1 of the netns at `netnsPath` ("/run/netns/x"). */
export function listenInNetns(server: ApiServer, netnsPath: string): NetnsListener {
  const libc = openLibc();
  let http: Deno.HttpServer;
  try {
    const fd = openNetnsFd(libc, netnsPath);
    try {
      http = inNetns(
        libc,
        { fd, path: netnsPath },
        () =>
          Deno.serve(
            { hostname: "127.0.0.1", port: 0, onListen: () => {} },
            (req) => server.handle(req),
          ),
      );
    } finally {
      libc.symbols.close(fd);
    }
  } finally {
    libc.close();
  }
  const port = (http.addr as Deno.NetAddr).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => closed ??= http.shutdown(),
  };
}

/** Writes a JSON kubeconfig for `url` with the server's token (mode 0600). */
export async function writeKubeconfig(path: string, url: string, token: string): Promise<void> {
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: url } }],
    users: [{ name: "test", user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: "test" } }],
    "current-context": "test",
  };
  await Deno.writeTextFile(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}
