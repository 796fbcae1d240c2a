import assert from "node:assert/strict";
import { CniError } from "../../errors.ts";
import {
  type HttpTransport,
  KubeApiError,
  KubeClient,
  KubeUnavailableError,
  pathOf,
} from "./client.ts";

function client(transport: HttpTransport, timeoutMs = 1000): KubeClient {
  return new KubeClient({
    endpoint: { server: "http://api:1", token: "t0k" },
    transport,
    timeoutMs,
  });
}

const status = (code: number, reason: string) => () =>
  Promise.resolve(
    new Response(JSON.stringify({ kind: "Status", code, reason, message: `m${code}` }), {
      status: code,
    }),
  );

Deno.test("paths are built from verb, group and resource", () => {
  assert.equal(
    pathOf({ verb: "get", group: "hostgate.io", resource: "ippools", name: "default" }),
    "/apis/hostgate.io/v1alpha1/ippools/default",
  );
  assert.equal(
    pathOf({
      verb: "list",
      group: "hostgate.io",
      resource: "ipallocations",
      labelSelector: "a=b,c=d",
    }),
    "/apis/hostgate.io/v1alpha1/ipallocations?labelSelector=a%3Db%2Cc%3Dd",
  );
  assert.equal(
    pathOf({ verb: "get", group: "", resource: "pods", namespace: "ns", name: "web-0" }),
    "/api/v1/namespaces/ns/pods/web-0",
  );
  assert.throws(
    () => pathOf({ verb: "delete", group: "hostgate.io", resource: "ippools" }),
    /no name/,
  );
  assert.throws(() => pathOf({ verb: "get", group: "apps", resource: "x", name: "y" }), /version/);
});

Deno.test("requests carry the bearer token, JSON body and delete preconditions", async () => {
  const seen: Request[] = [];
  const bodies: string[] = [];
  const c = client(async (req) => {
    seen.push(req);
    bodies.push(await req.text());
    return new Response('{"ok":true}', { status: 200 });
  });
  assert.deepEqual(
    await c.kube({
      verb: "create",
      group: "hostgate.io",
      resource: "ipallocations",
      body: { a: 1 },
    }),
    { ok: true },
  );
  await c.kube({
    verb: "delete",
    group: "hostgate.io",
    resource: "ipallocations",
    name: "10.0.0.5",
    resourceVersion: "42",
  });
  assert.equal(seen[0]!.method, "POST");
  assert.equal(seen[0]!.headers.get("authorization"), "Bearer t0k");
  assert.equal(bodies[0], '{"a":1}');
  assert.equal(seen[1]!.method, "DELETE");
  assert.deepEqual(JSON.parse(bodies[1]!).preconditions, { resourceVersion: "42" });
});

Deno.test("unreachable, timeout, 5xx, 429 and 401 are code 11; 403 is 7; 404/409 typed", async () => {
  const call = (t: HttpTransport, timeoutMs?: number) =>
    client(t, timeoutMs).kube({
      verb: "get",
      group: "hostgate.io",
      resource: "ippools",
      name: "p",
    });
  const eleven = (re: RegExp) => (e: unknown) =>
    e instanceof KubeUnavailableError && e.code === 11 && re.test(e.message);
  await assert.rejects(
    call(() => Promise.reject(new TypeError("connection refused"))),
    eleven(/unreachable: connection refused/),
  );
  await assert.rejects(
    call(
      (req) =>
        new Promise((_, reject) =>
          req.signal.addEventListener("abort", () => reject(req.signal.reason))
        ),
      20,
    ),
    eleven(/did not answer within 20 ms/),
  );
  for (
    const [code, reason] of [[503, "ServiceUnavailable"], [500, "InternalError"], [
      429,
      "TooManyRequests",
    ], [401, "Unauthorized"]] as const
  ) {
    await assert.rejects(call(status(code, reason)), eleven(new RegExp(`${code} ${reason}`)));
  }
  await assert.rejects(
    call(status(403, "Forbidden")),
    (e: unknown) => e instanceof CniError && e.code === 7 && /403 Forbidden/.test(e.message),
  );
  await assert.rejects(
    call(status(404, "NotFound")),
    (e: unknown) => e instanceof KubeApiError && e.status === 404 && e.reason === "NotFound",
  );
  await assert.rejects(
    call(() => Promise.resolve(new Response("<html>", { status: 200 }))),
    eleven(/no JSON/),
  );
});
