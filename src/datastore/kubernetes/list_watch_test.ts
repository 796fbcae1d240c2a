/**
 * ProjectedListWatch against a scripted transport: a relist that fails half
 * way keeps the last good state and reports nothing; the completed relist
 * reports only what differs; an update nobody reads is no change; retries
 * while the server is away log one line per 10 s.
 * @module
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { type Change, ProjectedListWatch } from "./list_watch.ts";
import { ApiError, type ApiTransport } from "./transport.ts";
import { RealClock } from "../../system/clock.ts";
import { FakeClock } from "../../system/fake_clock.ts";
import { LogLimiter } from "../log_limiter.ts";

interface Obj {
  metadata: { name: string; resourceVersion: string };
  spec: { cidr: string };
  status?: { heartbeat: number };
}

const obj = (name: string, cidr: string, rv: number, heartbeat = 0): Obj => ({
  metadata: { name, resourceVersion: String(rv) },
  spec: { cidr },
  status: { heartbeat },
});

/** A transport answering from a script: LIST pages by continue token, watches from queues. */
class ScriptedTransport implements ApiTransport {
  pages: Record<string, () => Response> = {};
  watches: (() => ReadableStream<Uint8Array>)[] = [];
  lists = 0;

  get(_path: string, q: URLSearchParams, signal: AbortSignal): Promise<Response> {
    if (q.get("watch")) {
      const next = this.watches.shift();
      const body = next ? next() : new ReadableStream<Uint8Array>({
        start(c) {
          signal.addEventListener("abort", () => c.close());
        },
      });
      return Promise.resolve(new Response(body));
    }
    this.lists++;
    const page = this.pages[q.get("continue") ?? ""];
    if (!page) return Promise.reject(new ApiError(500, "", "no such page"));
    try {
      return Promise.resolve(page());
    } catch (e) {
      return Promise.reject(e);
    }
  }
  request<T>(): Promise<T> {
    return Promise.reject(new Error("unused"));
  }
  close(): void {}
}

const pageOf = (items: Obj[], rv: number, cont?: string) => () =>
  new Response(
    JSON.stringify({ metadata: { resourceVersion: String(rv), continue: cont }, items }),
  );

const events = (...evs: unknown[]) => () =>
  ReadableStream.from(evs.map((e) => new TextEncoder().encode(JSON.stringify(e) + "\n")));

Deno.test("list/watch: a failed relist keeps the state; a complete one reports the difference", async () => {
  const t = new ScriptedTransport();
  t.pages[""] = pageOf([obj("a", "10.0.1.0/24", 1), obj("b", "10.0.2.0/24", 2)], 2);
  // First watch: a status-only update (no change), then 410 Gone.
  t.watches.push(events(
    { type: "MODIFIED", object: obj("a", "10.0.1.0/24", 3, 99) },
    { type: "ERROR", object: { code: 410, reason: "Expired", message: "too old" } },
  ));
  const reported: Change<string>[][] = [];
  const states: boolean[] = [];
  const lw = new ProjectedListWatch<string>({
    transport: t,
    path: "/api/v1/things",
    select: { spec: { cidr: true } },
    project: (o) => `${o.metadata?.name}=${(o.spec as { cidr: string }).cidr}`,
    same: (x, y) => x === y,
    pageSize: 2,
    backoff: { initialMs: 5, maxMs: 10 },
    clock: new RealClock(),
    random: () => 0,
    onChanges: (c) => reported.push([...c]),
    onState: (ok) => states.push(ok),
    log: () => {},
  });
  await lw.start();
  deepEqual([...lw.values()].sort(), ["a=10.0.1.0/24", "b=10.0.2.0/24"]);
  equal(reported.length, 1);
  // The relist after 410: page 1 has the changes, page 2 fails once, then the whole relist works.
  let failures = 1;
  const relistState = () => [...lw.values()].sort().join(" ");
  t.pages[""] = pageOf([obj("a", "10.0.1.0/24", 5), obj("c", "10.0.3.0/24", 6)], 7, "p2");
  t.pages["p2"] = () => {
    if (failures-- > 0) throw new ApiError(503, "", "busy");
    return pageOf([obj("d", "10.0.4.0/24", 7)], 7)();
  };
  const seenDuringFailure: string[] = [];
  const end = performance.now() + 3000;
  while (lw.stats.relists < 2 && performance.now() < end) {
    seenDuringFailure.push(relistState());
    await new Promise((r) => setTimeout(r, 1));
  }
  await lw.close();
  equal(lw.stats.expired, 1);
  equal(lw.stats.unchanged, 1, "the status-only update");
  ok(
    seenDuringFailure.every((s) => s === "a=10.0.1.0/24 b=10.0.2.0/24"),
    "no partial state while the relist failed",
  );
  deepEqual(relistState(), "a=10.0.1.0/24 c=10.0.3.0/24 d=10.0.4.0/24");
  deepEqual(
    reported[1]!.map((c) => `${c.type} ${c.key}`).sort(),
    ["add c", "add d", "delete b"],
    "one report, the difference only (a unchanged)",
  );
  equal(reported.length, 2);
  ok(states.includes(false), "the 503 was reported as disconnected");
});

Deno.test("list/watch: retryNow ends a long backoff at once", async () => {
  const t = new ScriptedTransport();
  const states: boolean[] = [];
  const lw = new ProjectedListWatch<string>({
    transport: t,
    path: "/api/v1/things",
    project: (o) => `${o.metadata?.name}`,
    same: (x, y) => x === y,
    // A backoff no test would wait for: only retryNow can end it.
    backoff: { initialMs: 600_000, maxMs: 600_000 },
    clock: new RealClock(),
    random: () => 0,
    onChanges: () => {},
    onState: (ok) => states.push(ok),
    log: () => {},
  });
  await lw.start(); // no page yet: the first LIST fails, and it backs off
  equal(lw.backingOff, true);
  equal(lw.synced, false);
  t.pages[""] = pageOf([obj("a", "10.0.1.0/24", 1)], 1);
  lw.retryNow();
  const end = performance.now() + 3000;
  while (!lw.synced && performance.now() < end) await new Promise((r) => setTimeout(r, 1));
  equal(lw.synced, true, "listed right after retryNow");
  equal(lw.backingOff, false);
  deepEqual([...lw.values()], ["a"]);
  deepEqual(states.slice(-1), [true]);
  await lw.close();
});

Deno.test("list/watch: the server away logs one retry line per 10 s, then one when back", async () => {
  const t = new ScriptedTransport();
  let n = 0;
  const served = t.get.bind(t);
  t.get = (path, q, signal) => {
    if (t.pages[""]) return served(path, q, signal);
    // Every retry fails with its own URL and numbers, as fetch says it.
    const url = `http://10.0.0.1:6443${path}?limit=250&attempt=${++n}`;
    return Promise.reject(new Error(`error sending request for url (${url}): refused`));
  };
  const clock = new FakeClock();
  const logged: string[] = [];
  const log = (m: string) => logged.push(m);
  // Two collections of one datastore, sharing its limiter: one line per 10 s for both.
  const limiter = new LogLimiter({ clock, log });
  const watches = ["/api/v1/things", "/api/v1/others"].map((path) =>
    new ProjectedListWatch<string>({
      transport: t,
      path,
      project: (o) => `${o.metadata?.name}`,
      same: (x, y) => x === y,
      backoff: { initialMs: 100, maxMs: 1000 },
      clock,
      random: () => 0,
      onChanges: () => {},
      onState: () => {},
      log,
      limiter,
    })
  );
  await Promise.all(watches.map((w) => w.start()));
  await clock.advance(25_000);
  ok(n >= 60, `${n} retries in 25 s`);
  equal(logged.length, 3, logged.join("\n"));
  ok(logged[0]!.includes("attempt=1"), "the first failure is logged at once, URL included");
  match(logged[1]!, /\(\d+ more like it\)$/);
  t.pages[""] = pageOf([obj("a", "10.0.1.0/24", 1)], 1);
  await clock.advance(1_000);
  ok(watches.every((w) => w.synced));
  equal(logged.length, 4, logged.join("\n"));
  match(logged[3]!, /^kubernetes: \/api\/v1\/\w+: connected again$/);
  await Promise.all(watches.map((w) => w.close()));
});
