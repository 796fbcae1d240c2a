/**
 * The test list/watch apiserver (tests/helpers/apiserver.ts) as a child
 * process, started INSIDE the router namespace so it listens on the node
 * segment (172.30.0.1) and the agents in the node namespaces reach it, while
 * nothing listens in the root namespace. Controlled over stdin/stdout with
 * JSON lines:
 *
 *   stdout, first: {"ready":true,"url":"http://172.30.0.1:PORT","kubeconfig":PATH}
 *   stdin:  {"id":1,"op":"putNode","name":"n1","podCidr":"10.244.1.0/24","ip":"172.30.0.11"}
 *           {"id":2,"op":"deleteNode","name":"n1"}
 *           {"id":3,"op":"getNode","name":"n1"}
 *           {"id":4,"op":"put","resource":"ippools.hostgate.io","object":{...}}
 *           {"id":5,"op":"list","resource":"ipallocations.hostgate.io"}
 *           {"id":6,"op":"setDown","down":true}   (the API unreachable: port closed;
 *                                                   false listens again, same port)
 *   stdout: {"id":1,"ok":true,"result":...} or {"id":1,"ok":false,"error":"..."}
 *
 * Exits (closing the server and removing its files) when stdin ends.
 * @module
 */
import { parseArgs } from "node:util";
import { type KubeObject, startApiServer } from "../helpers/apiserver.ts";

const { values } = parseArgs({
  options: {
    hostname: { type: "string", default: "127.0.0.1" },
    kubeconfig: { type: "string" },
  },
});
const server = await startApiServer({ hostname: values.hostname });
const kubeconfig = values.kubeconfig ?? server.kubeconfigPath;
if (values.kubeconfig) await Deno.copyFile(server.kubeconfigPath, values.kubeconfig);
const say = (o: unknown) => console.log(JSON.stringify(o));
say({ ready: true, url: server.url, kubeconfig });

interface Command {
  id: number;
  op: "putNode" | "deleteNode" | "getNode" | "put" | "list" | "setDown";
  name: string;
  resource?: string;
  object?: KubeObject;
  podCidr?: string;
  ip?: string;
  down?: boolean;
}

async function apply(c: Command): Promise<unknown> {
  switch (c.op) {
    case "putNode":
      return server.put("nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: c.name },
        spec: { podCIDR: c.podCidr, podCIDRs: c.podCidr ? [c.podCidr] : [] },
        status: { addresses: c.ip ? [{ type: "InternalIP", address: c.ip }] : [] },
      });
    case "deleteNode":
      return server.remove("nodes", c.name);
    case "getNode":
      return server.get("nodes", c.name) ?? null;
    case "put":
      return server.put(c.resource ?? "", c.object!);
    case "list":
      return server.list(c.resource ?? "");
    case "setDown":
      await server.setDown(c.down === true);
      return c.down === true;
    default:
      throw new Error(`Cannot run ${JSON.stringify(c)}: unknown op`);
  }
}

let buf = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buf += chunk;
  let nl: number;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, nl).trim();
    buf = buf.slice(nl + 1);
    if (line === "") continue;
    let c: Command;
    try {
      c = JSON.parse(line) as Command;
    } catch {
      say({ id: -1, ok: false, error: `Cannot parse ${line}` });
      continue;
    }
    try {
      say({ id: c.id, ok: true, result: await apply(c) });
    } catch (e) {
      say({ id: c.id, ok: false, error: (e as Error).message });
    }
  }
}
await server.close();
if (values.kubeconfig) await Deno.remove(values.kubeconfig).catch(() => {});
Deno.exit(0);
