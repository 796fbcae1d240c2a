/**
 * The agent's plugin socket alone (src/plugin/remote/: the same server and
 * executor `hostgate-agent run --plugin-socket` starts), for the chain and
 * plugin benches: they measure plugin calls, and a whole agent would add its
 * datastore and reconcile loop to the node under test. Serves until SIGTERM.
 * Usage: plugin_server_main.ts <socket path>
 * @module
 */
import { openLibc } from "../src/system/netlink/libc.ts";
import { pluginExecutor, servePluginCalls } from "../src/plugin/remote/mod.ts";
import { createLogger } from "../src/system/log.ts";

const path = Deno.args[0];
if (!path) throw new Error("Cannot serve plugin calls: no socket path given");
const ac = new AbortController();
Deno.addSignalListener("SIGTERM", () => ac.abort());
let libc: ReturnType<typeof openLibc> | undefined;
const server = await servePluginCalls({
  path,
  handle: pluginExecutor({ libc: () => libc ??= openLibc() }),
  log: createLogger({ level: "warn" }),
  signal: ac.signal,
});
await server.closed;
Deno.exit(0);
