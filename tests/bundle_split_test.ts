/**
 * What each program loads at start (run after `deno task bundle`): the
 * plugin bundle holds neither @kubernetes/client-node nor etcd3; the agent's
 * entry and every chunk it imports statically hold neither either, so an
 * agent on the file datastore never loads them; etcd3 sits in a chunk loaded
 * by dynamic import when that datastore is configured, client-node one
 * dynamic import further (the Kubernetes datastore's exec-plugin fallback). No plugin program and
 * nothing the agent loads at start holds an address library (ip-cidr,
 * ip-address, sprintf-js): src/net parses addresses itself.
 * @module
 */
import { deepEqual, ok } from "node:assert/strict";

const DIST = new URL("../dist/bundle/", import.meta.url).pathname;

/** Strings only the client libraries contain (client-node's KubeConfig, grpc-js, etcd3). */
const MARKERS: Record<string, RegExp> = {
  "client-node": /loadFromOptions/,
  etcd3: /grpc\.max_receive_message_length|grpc-node/,
};

function markersIn(text: string): string[] {
  return Object.entries(MARKERS).filter(([, re]) => re.test(text)).map(([name]) => name);
}

/** Files loaded at start: the entry plus its static imports, transitively. */
function staticClosure(entry: string): { files: string[]; dynamic: string[] } {
  const files: string[] = [];
  const dynamic = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (files.includes(file)) continue;
    files.push(file);
    const text = Deno.readTextFileSync(file);
    const dir = file.slice(0, file.lastIndexOf("/") + 1);
    for (const m of text.matchAll(/(?:from|import)\s*["'](\.\/[\w./-]+\.js)["']/g)) {
      queue.push(new URL(m[1]!, `file://${dir}`).pathname);
    }
    for (const m of text.matchAll(/import\(\s*["'](\.\/[\w./-]+\.js)["']\s*\)/g)) {
      dynamic.add(new URL(m[1]!, `file://${dir}`).pathname);
    }
  }
  return { files, dynamic: [...dynamic].filter((f) => !files.includes(f)) };
}

Deno.test("bundles: the plugin loads no datastore client", () => {
  deepEqual(markersIn(Deno.readTextFileSync(`${DIST}hostgate`)), []);
});

Deno.test("bundles: the agent loads client-node and etcd3 only by dynamic import", () => {
  const { files, dynamic } = staticClosure(`${DIST}hostgate-agent`);
  for (const f of files) deepEqual(markersIn(Deno.readTextFileSync(f)), [], f);
  const lazy = new Set(dynamic.flatMap((f) => markersIn(Deno.readTextFileSync(f))));
  ok(lazy.has("etcd3"), "etcd3 is in a dynamically imported chunk");
  // The Kubernetes datastore reads its config itself: client-node is one more dynamic import
  // away, loaded only for a kubeconfig user with an exec or auth-provider plugin.
  const kube = dynamic.filter((f) => Deno.readTextFileSync(f).includes("hostgate-subnets"));
  deepEqual(kube.length, 1, dynamic.join(" "));
  const inner = staticClosure(kube[0]!);
  for (const f of inner.files) deepEqual(markersIn(Deno.readTextFileSync(f)), [], f);
  const plugin = new Set(inner.dynamic.flatMap((f) => markersIn(Deno.readTextFileSync(f))));
  ok(
    plugin.has("client-node"),
    "client-node is in a chunk the Kubernetes datastore imports lazily",
  );
});

/** Strings only ip-address (ip-cidr's parser) and its sprintf-js dependency contain. */
const ADDRESS_LIBRARY = /Bad character%s detected|\[sprintf\]|Address failed regex/;

/** The per-command programs the plugin launcher imports (older builds' files may linger a day). */
function pluginPrograms(): string[] {
  const launcher = Deno.readTextFileSync(`${DIST}hostgate`);
  return [...launcher.matchAll(/file:\/\/([^"]+\.programs\/[\w-]+\.js)/g)].map((m) => m[1]!);
}

Deno.test("bundles: no program holds an address library", () => {
  const programs = pluginPrograms();
  ok(programs.length >= 5, programs.join(" "));
  const agent = staticClosure(`${DIST}hostgate-agent`);
  // client-node's own chunk (dynamic, Kubernetes datastore only) carries ip-address 10 for
  // its SOCKS proxy agent: that is client-node's, not an address parser of ours.
  const files = [`${DIST}hostgate`, ...programs, ...agent.files];
  for (const f of files) ok(!ADDRESS_LIBRARY.test(Deno.readTextFileSync(f)), f);
});
