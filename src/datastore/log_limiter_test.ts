import { deepEqual, equal } from "node:assert/strict";
import { FakeClock } from "../system/fake_clock.ts";
import { errorKind, LOG_EVERY_MS, LogLimiter } from "./log_limiter.ts";

Deno.test("LogLimiter: one line per kind per 10 s; the held-back count rides on the next", async () => {
  const clock = new FakeClock();
  const out: string[] = [];
  const l = new LogLimiter({ clock, log: (m) => out.push(m) });
  equal(l.used, false);
  equal(l.line("refused", "refused 1"), true);
  equal(l.line("refused", "refused 2"), false);
  equal(l.line("timeout", "timeout 1"), true, "another kind has its own budget");
  await clock.advance(LOG_EVERY_MS - 1);
  equal(l.line("refused", "refused 3"), false);
  await clock.advance(1);
  equal(l.line("refused", "refused 4"), true);
  equal(l.line("refused", "refused 5"), false);
  await clock.advance(LOG_EVERY_MS);
  l.line("refused", "refused 6");
  deepEqual(out, [
    "refused 1",
    "timeout 1",
    "refused 4 (2 more like it)",
    "refused 6 (1 more like it)",
  ]);
  equal(l.used, true);
});

Deno.test("errorKind: URLs and numbers out, the text before the first colon", () => {
  const a = "error sending request for url (http://10.0.0.1:6443/api/v1/nodes?limit=250): refused";
  const b = "error sending request for url (https://api:443/api/v1/nodes?rv=17): reset";
  equal(errorKind(a), "error sending request for url (<url>)");
  equal(errorKind(a), errorKind(b));
  equal(errorKind("Cannot reach etcd: no answer within 1000 ms"), "Cannot reach etcd");
  equal(errorKind("HTTP 503 busy"), "HTTP # busy");
});
