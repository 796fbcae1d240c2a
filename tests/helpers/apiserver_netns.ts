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
  /** "http://127.0.0.1:PORT" (https with `tls`), valid inside the netns only. */
  url: string;
  port: number;
  /** Stops listening (new connections are refused); idempotent. */
  close(): Promise<void>;
}

/** PEM certificate chain and key for a TLS listener (see `makeTestCerts`). */
export interface TlsFiles {
  cert: string;
  key: string;
}

/**
 * Serves `server` on 127.0.0.1 of the netns at `netnsPath` ("/run/netns/x"),
 * over TLS when `tls` is given (as a real API server is reached).
 */
export function listenInNetns(
  server: ApiServer,
  netnsPath: string,
  tls?: TlsFiles,
): NetnsListener {
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
            { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...tls },
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
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    close: () => closed ??= http.shutdown(),
  };
}

/** Writes a JSON kubeconfig for `url` with the server's token (mode 0600) and CA. */
export async function writeKubeconfig(
  path: string,
  url: string,
  token: string,
  caPem?: string,
): Promise<void> {
  const cluster: Record<string, string> = { server: url };
  if (caPem) cluster["certificate-authority-data"] = btoa(caPem);
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster }],
    users: [{ name: "test", user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: "test" } }],
    "current-context": "test",
  };
  await Deno.writeTextFile(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 signed by it, made
 * with openssl in `dir` (like a cluster's CA and kube-apiserver serving
 * certificate). Undefined when openssl is not installed.
 */
export async function makeTestCerts(
  dir: string,
): Promise<(TlsFiles & { caPem: string }) | undefined> {
  const openssl = async (args: string[]) => {
    const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(`Cannot run openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
      "-days",
      "2",
      "-subj",
      "/CN=hostgate-test-ca",
    ]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  await openssl([
    "req",
    ...ec,
    "-keyout",
    `${dir}/server.key`,
    "-out",
    `${dir}/server.csr`,
    "-subj",
    "/CN=kube-apiserver",
  ]);
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/server.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    `${dir}/server.pem`,
    "-days",
    "2",
    "-extfile",
    `${dir}/server.ext`,
  ]);
  return {
    cert: await Deno.readTextFile(`${dir}/server.pem`),
    key: await Deno.readTextFile(`${dir}/server.key`),
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
  };
}
