/**
 * The test list/watch server checked against raw fetch, so the datastore
 * tests (and the IPPool tests later) rest on semantics verified here:
 * resourceVersions, 409s, patches, status subresource, watch replay, 410
 * Gone, bookmarks, timeouts, selectors, outages and request counting.
 * @module
 */

import { deepEqual, equal, ok as assert, rejects } from "node:assert/strict";
import { type ApiServer, type KubeObject, startApiServer } from "./helpers/apiserver.ts";

interface WatchEvent {
  type: string;
  object: KubeObject & { code?: number; reason?: string };
}

/** Reads a watch stream line by line; always `close()` it. */
class WatchReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  constructor(res: Response) {
    this.#reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next event, or undefined at the end of the stream. */
  async next(timeoutMs = 3000): Promise<WatchEvent | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("Cannot read watch: timed out")), timeoutMs);
    });
    try {
      while (!this.#buf.includes("\n")) {
        const r = await Promise.race([this.#reader.read(), timeout]);
        if (r.done) return undefined;
        this.#buf += r.value;
      }
    } finally {
      clearTimeout(timer);
    }
    const i = this.#buf.indexOf("\n");
    const line = this.#buf.slice(0, i);
    this.#buf = this.#buf.slice(i + 1);
    return JSON.parse(line);
  }
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function client(s: ApiServer) {
  const headers = { authorization: `Bearer ${s.token}`, "content-type": "application/json" };
  const call = async (method: string, path: string, body?: unknown, type?: string) => {
    const res = await fetch(s.url + path, {
      method,
      headers: type ? { ...headers, "content-type": type } : headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const watch = async (path: string) => {
    const res = await fetch(s.url + path, { headers });
    equal(res.status, 200);
    return new WatchReader(res);
  };
  return { call, watch };
}

async function withServer(
  fn: (s: ApiServer) => Promise<void>,
  opts: Parameters<typeof startApiServer>[0] = {},
) {
  const s = await startApiServer(opts);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

const cm = (name: string, data: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name },
  data,
});

Deno.test("apiserver: create, get, list with resourceVersion, 409 AlreadyExists", async () => {
  await withServer(async (s) => {
    const { call } = client(s);
    const c = await call("POST", "/api/v1/namespaces/kube-system/configmaps", cm("a", { x: "1" }));
    equal(c.status, 201);
    equal(c.body.metadata.namespace, "kube-system");
    assert(c.body.metadata.uid);
    const dup = await call("POST", "/api/v1/namespaces/kube-system/configmaps", cm("a"));
    equal(dup.status, 409);
    equal(dup.body.kind, "Status");
    equal(dup.body.reason, "AlreadyExists");
    const g = await call("GET", "/api/v1/namespaces/kube-system/configmaps/a");
    deepEqual(g.body.data, { x: "1" });
    equal((await call("GET", "/api/v1/namespaces/default/configmaps/a")).status, 404);
    await call("POST", "/api/v1/namespaces/default/configmaps", cm("b"));
    const all = await call("GET", "/api/v1/configmaps");
    equal(all.body.kind, "ConfigMapList");
    deepEqual(all.body.items.map((i: KubeObject) => i.metadata.name), ["b", "a"]);
    equal(all.body.metadata.resourceVersion, String(s.store.resourceVersion));
    const ns = await call("GET", "/api/v1/namespaces/kube-system/configmaps");
    deepEqual(ns.body.items.map((i: KubeObject) => i.metadata.name), ["a"]);
    const unauth = await fetch(`${s.url}/api/v1/nodes`);
    equal(unauth.status, 401);
    await unauth.body?.cancel();
  });
});

Deno.test("apiserver: update with a stale resourceVersion is 409 Conflict", async () => {
  await withServer(async (s) => {
    const { call } = client(s);
    const path = "/api/v1/namespaces/kube-system/configmaps";
    const v1 = (await call("POST", path, cm("a", { n: "1" }))).body;
    const v2 = await call("PUT", `${path}/a`, { ...v1, data: { n: "2" } });
    equal(v2.status, 200);
    assert(Number(v2.body.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
    const stale = await call("PUT", `${path}/a`, { ...v1, data: { n: "3" } });
    equal(stale.status, 409);
    equal(stale.body.reason, "Conflict");
    deepEqual((await call("GET", `${path}/a`)).body.data, { n: "2" });
    // Custom resources refuse an unconditional update, core ones accept it.
    const pool = { metadata: { name: "p" }, spec: { cidr: "10.0.0.0/24" } };
    const created = (await call("POST", "/apis/hostgate.io/v1alpha1/ippools", pool)).body;
    equal(created.apiVersion, "hostgate.io/v1alpha1");
    equal(created.kind, "IPPool");
    const uncond = await call("PUT", "/apis/hostgate.io/v1alpha1/ippools/p", pool);
    equal(uncond.status, 422);
    const free = await call("PUT", `${path}/a`, { metadata: { name: "a" }, data: { n: "4" } });
    equal(free.status, 200);
    equal(s.count({ verb: "update", resource: "configmaps", code: 409 }), 1);
  });
});

Deno.test("apiserver: merge and json patch, status subresource, delete preconditions", async () => {
  await withServer(async (s) => {
    const { call } = client(s);
    const node = {
      metadata: { name: "n1", annotations: { keep: "1", drop: "2" } },
      spec: { podCIDR: "10.0.1.0/24" },
      status: { addresses: [{ type: "InternalIP", address: "192.0.2.1" }] },
    };
    const created = (await call("POST", "/api/v1/nodes", node)).body;
    const merged = await call("PATCH", "/api/v1/nodes/n1", {
      metadata: { annotations: { drop: null, add: "3" } },
      status: { addresses: [] },
    }, "application/merge-patch+json");
    equal(merged.status, 200);
    deepEqual(merged.body.metadata.annotations, { keep: "1", add: "3" });
    // Main resource writes keep the status; /status writes only the status.
    deepEqual(merged.body.status, node.status);
    const st = await call("PATCH", "/api/v1/nodes/n1/status", {
      spec: { podCIDR: "10.9.9.0/24" },
      status: { addresses: [{ type: "InternalIP", address: "192.0.2.9" }] },
    }, "application/strategic-merge-patch+json");
    equal(st.body.status.addresses[0].address, "192.0.2.9");
    equal(st.body.spec.podCIDR, "10.0.1.0/24");
    const jp = await call("PATCH", "/api/v1/nodes/n1", [
      { op: "test", path: "/spec/podCIDR", value: "10.0.1.0/24" },
      { op: "add", path: "/spec/podCIDRs", value: ["10.0.1.0/24"] },
    ], "application/json-patch+json");
    deepEqual(jp.body.spec.podCIDRs, ["10.0.1.0/24"]);
    const failedTest = await call("PATCH", "/api/v1/nodes/n1", [
      { op: "test", path: "/spec/podCIDR", value: "nope" },
    ], "application/json-patch+json");
    equal(failedTest.status, 422);
    const stalePatch = await call("PATCH", "/api/v1/nodes/n1", {
      metadata: { resourceVersion: created.metadata.resourceVersion, labels: { a: "b" } },
    }, "application/merge-patch+json");
    equal(stalePatch.status, 409);
    const apply = await call("PATCH", "/api/v1/nodes/n1", {}, "application/apply-patch+yaml");
    equal(apply.status, 415);
    const pre = { preconditions: { resourceVersion: created.metadata.resourceVersion } };
    equal((await call("DELETE", "/api/v1/nodes/n1", pre)).status, 409);
    const cur = (await call("GET", "/api/v1/nodes/n1")).body;
    const del = await call("DELETE", "/api/v1/nodes/n1", {
      preconditions: { resourceVersion: cur.metadata.resourceVersion },
    });
    equal(del.status, 200);
    equal((await call("GET", "/api/v1/nodes/n1")).status, 404);
    equal(s.count({ verb: "patch", resource: "nodes", subresource: "status" }), 1);
    equal(s.count({ verb: "delete", resource: "nodes", code: 409 }), 1);
  });
});

Deno.test("apiserver: watch replays from a resourceVersion and streams live events", async () => {
  await withServer(async (s) => {
    const { call, watch } = client(s);
    await call("POST", "/api/v1/nodes", { metadata: { name: "a" } });
    const list = (await call("GET", "/api/v1/nodes")).body;
    const rv = list.metadata.resourceVersion;
    await call("POST", "/api/v1/nodes", { metadata: { name: "b" } }); // after the list: replayed
    const w = await watch(`/api/v1/nodes?watch=true&resourceVersion=${rv}`);
    try {
      const e1 = await w.next();
      deepEqual([e1?.type, e1?.object.metadata.name], ["ADDED", "b"]);
      await call(
        "PATCH",
        "/api/v1/nodes/a",
        { metadata: { labels: { x: "y" } } },
        "application/merge-patch+json",
      );
      const e2 = await w.next();
      deepEqual([e2?.type, e2?.object.metadata.labels], ["MODIFIED", { x: "y" }]);
      await call("DELETE", "/api/v1/nodes/b");
      const e3 = await w.next();
      equal(e3?.type, "DELETED");
      equal(e3?.object.metadata.resourceVersion, String(s.store.resourceVersion));
      equal(s.watchCount, 1);
    } finally {
      await w.close();
    }
    // Without a resourceVersion the watch starts with the current objects as ADDED.
    const w0 = await watch("/api/v1/nodes?watch=1");
    try {
      const e = await w0.next();
      deepEqual([e?.type, e?.object.metadata.name], ["ADDED", "a"]);
    } finally {
      await w0.close();
    }
    equal(s.count({ verb: "watch", resource: "nodes" }), 2);
  });
});

Deno.test("apiserver: selector watches turn moves into ADDED/DELETED", async () => {
  await withServer(async (s) => {
    const { call, watch } = client(s);
    const pods = "/api/v1/namespaces/default/pods";
    await call("POST", pods, {
      metadata: { name: "p1", labels: { app: "x" } },
      spec: { nodeName: "n1" },
    });
    await call("POST", pods, {
      metadata: { name: "p2", labels: { app: "y" } },
      spec: { nodeName: "n2" },
    });
    const byNode = (await call("GET", `${pods}?fieldSelector=spec.nodeName%3Dn1`)).body;
    deepEqual(byNode.items.map((p: KubeObject) => p.metadata.name), ["p1"]);
    const byLabel = (await call("GET", `${pods}?labelSelector=app%20in%20(y,z)`)).body;
    deepEqual(byLabel.items.map((p: KubeObject) => p.metadata.name), ["p2"]);
    const notX = (await call("GET", `/api/v1/pods?labelSelector=app!%3Dx,!missing`)).body;
    deepEqual(notX.items.map((p: KubeObject) => p.metadata.name), ["p2"]);
    const rv = byNode.metadata.resourceVersion;
    const w = await watch(`${pods}?watch=true&resourceVersion=${rv}&labelSelector=app%3Dx`);
    try {
      const relabel = (name: string, app: string) =>
        call(
          "PATCH",
          `${pods}/${name}`,
          { metadata: { labels: { app } } },
          "application/merge-patch+json",
        );
      await relabel("p2", "x");
      const into = await w.next();
      deepEqual([into?.type, into?.object.metadata.name], ["ADDED", "p2"]);
      await relabel("p1", "z");
      const out = await w.next();
      deepEqual([out?.type, out?.object.metadata.name], ["DELETED", "p1"]);
    } finally {
      await w.close();
    }
  });
});

Deno.test("apiserver: 410 Gone after compaction or a small window, bookmarks, timeoutSeconds", async () => {
  await withServer(async (s) => {
    const { call, watch } = client(s);
    await call("POST", "/api/v1/nodes", { metadata: { name: "a" } });
    const old = String(s.store.resourceVersion);
    for (const n of ["b", "c", "d"]) await call("POST", "/api/v1/nodes", { metadata: { name: n } });
    // Window of 2 events: "b" (after old) is gone.
    const gone = await watch(`/api/v1/nodes?watch=true&resourceVersion=${old}`);
    try {
      const e = await gone.next();
      equal(e?.type, "ERROR");
      equal(e?.object.code, 410);
      equal(e?.object.reason, "Expired");
      equal(await gone.next(), undefined, "stream ends after the ERROR");
    } finally {
      await gone.close();
    }
    equal(s.expired, 1);
    const cur = String(s.store.resourceVersion);
    s.compact();
    const ok = await watch(
      `/api/v1/nodes?watch=true&resourceVersion=${cur}&allowWatchBookmarks=true&timeoutSeconds=1`,
    );
    try {
      const b = await ok.next();
      deepEqual([b?.type, b?.object.metadata.resourceVersion], ["BOOKMARK", cur]);
      const t0 = performance.now();
      while (await ok.next()) { /* bookmarks until the timeout ends the stream */ }
      assert(performance.now() - t0 < 1500, "timeoutSeconds ends the stream");
    } finally {
      await ok.close();
    }
    equal(s.watchCount, 0);
  }, { watchWindow: 2, bookmarkIntervalMs: 100 });
});

Deno.test("apiserver: failNext, setDown (refuse and 503), dropWatches, barrier", async () => {
  await withServer(async (s) => {
    const { call, watch } = client(s);
    s.failNext(1, { match: (r) => r.verb === "list" });
    equal((await call("GET", "/api/v1/nodes/x")).status, 404, "get is not matched");
    equal((await call("GET", "/api/v1/nodes")).status, 503);
    equal((await call("GET", "/api/v1/nodes")).status, 200);
    const w = await watch("/api/v1/nodes?watch=true");
    await s.setDown(true);
    equal(await w.next(), undefined, "down ends watches");
    await w.close();
    await rejects(fetch(`${s.url}/api/v1/nodes`), "connection refused while down");
    await s.setDown(false);
    equal((await call("GET", "/api/v1/nodes")).status, 200);
    await s.setDown(true, "503");
    equal((await call("GET", "/api/v1/nodes")).status, 503);
    await s.setDown(false);
    // Barrier: three reads held until all three arrived, so all see one resourceVersion.
    await call("POST", "/api/v1/namespaces/kube-system/configmaps", cm("race"));
    s.barrier(3, (r) => r.verb === "get" && r.resource === "configmaps");
    const path = "/api/v1/namespaces/kube-system/configmaps/race";
    const reads = await Promise.all([1, 2, 3].map(() => call("GET", path)));
    const rvs = new Set(reads.map((r) => r.body.metadata.resourceVersion));
    equal(rvs.size, 1);
    const writes = await Promise.all(
      reads.map((r, i) => call("PUT", path, { ...r.body, data: { [`k${i}`]: "v" } })),
    );
    deepEqual(writes.map((w) => w.status).sort(), [200, 409, 409]);
    const w2 = await watch("/api/v1/nodes?watch=true&resourceVersion=0");
    s.dropWatches();
    equal(await w2.next(), undefined);
    await w2.close();
    const disc = (await call("GET", "/apis/hostgate.io/v1alpha1")).body;
    deepEqual(disc.resources.map((r: { name: string }) => r.name), [
      "ippools",
      "ippools/status",
      "ipallocations",
    ]);
  });
});
