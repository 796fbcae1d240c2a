/**
 * Loads the etcd datastore (and with it etcd3 and grpc-js, ~130 ms) only when
 * asked for. From source or a `deno compile` binary this is a plain dynamic
 * import. Inside a `deno bundle` file there is no npm package directory, and
 * etcd3 reads `${__dirname}/../proto/rpc.proto` while it initializes, so the
 * protos are written to a private temp dir, `__dirname` points there for the
 * duration of the import, and both are removed afterwards.
 * Never import datastore.ts statically from code that ends up in a bundle: etcd3
 * would then initialize at program start, before this shim can run.
 * @module
 */

import type * as EtcdModule from "./datastore.ts";

/** The etcd datastore module, loaded on first use. */
export async function loadEtcdModule(): Promise<typeof EtcdModule> {
  const bundled = !import.meta.url.endsWith("/datastore/etcd/load.ts");
  if (!bundled) return await import("./datastore.ts");
  const { ETCD3_PROTO_FILES } = await import("./proto.ts");
  const g = globalThis as { __dirname?: string };
  const had = Object.hasOwn(g, "__dirname");
  const previous = g.__dirname;
  const dir = await Deno.makeTempDir({ prefix: "hostgate-etcd3-" });
  try {
    await Deno.mkdir(`${dir}/lib`);
    await Deno.mkdir(`${dir}/proto`);
    for (const [name, text] of Object.entries(ETCD3_PROTO_FILES)) {
      await Deno.writeTextFile(`${dir}/proto/${name}`, text);
    }
    g.__dirname = `${dir}/lib`;
    return await import("./datastore.ts");
  } finally {
    if (had) g.__dirname = previous;
    else delete g.__dirname;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
