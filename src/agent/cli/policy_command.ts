/**
 * `hostgate-agent policy explain --from POD --to POD --port N/PROTO`: reads
 * the policy inputs from the configured datastore (the Kubernetes API or the
 * file store's policy folder), and prints which policies select each side,
 * which rule allows the connection or why it is denied, and the nft the
 * deciding node holds for it. Exit 0 when allowed, 3 when denied.
 * @module
 */
import { parseFlags } from "./flags.ts";
import type { Datastore } from "../../datastore/types.ts";
import { explain } from "../policy/explain.ts";
import { resolvePolicies } from "../policy/resolve.ts";
import type { AgentConfig } from "./agent_config.ts";
import { ConfigError, parseConfig } from "./config.ts";

/** Help of `policy explain`. */
export const POLICY_USAGE =
  `Usage: hostgate-agent policy explain --from NS/POD|IP --to NS/POD|IP --port PORT[/TCP|UDP|SCTP]|icmp [datastore flags]

Explains whether NetworkPolicy allows a new connection, from the same model the agent enforces.
Datastore flags are those of 'status' (--datastore, --kubeconfig, --store-dir, ...).
Exit status: 0 allowed, 3 denied, 1 failed, 2 bad usage.`;

/** Splits `policy explain` argv into the query and the config. */
export function parsePolicyArgs(
  argv: string[],
  inputs: { env: Record<string, string>; hostname: string },
): { query: { from: string; to: string; port: string }; config: AgentConfig } {
  const [sub, ...rest] = argv;
  if (sub !== "explain") {
    throw new ConfigError(`Cannot parse flags: unknown policy subcommand ${sub ?? "(none)"}`);
  }
  const mine = ["--from", "--to", "--port"];
  const own: string[] = [];
  const others: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const name = a.split("=")[0]!;
    if (mine.includes(name)) {
      own.push(a);
      if (!a.includes("=") && i + 1 < rest.length) own.push(rest[++i]!);
    } else others.push(a);
  }
  let values: Record<string, string | boolean>;
  try {
    values = parseFlags(own, {
      from: { type: "string" },
      to: { type: "string" },
      port: { type: "string" },
    });
  } catch (e) {
    throw new ConfigError(`Cannot parse flags: ${(e as Error).message}`);
  }
  const { from, to, port } = values;
  if (
    typeof from !== "string" || typeof to !== "string" || typeof port !== "string" || !from ||
    !to || !port
  ) {
    throw new ConfigError("Cannot parse flags: policy explain needs --from, --to and --port");
  }
  const config = parseConfig(["status", ...others], inputs);
  return { query: { from, to, port }, config };
}

/** Runs the explanation against an opened datastore (built with watchPolicy). */
export async function policyExplain(
  ds: Datastore,
  query: { from: string; to: string; port: string },
  print: (s: string) => void,
): Promise<number> {
  if (!ds.policy) {
    throw new Error(`Cannot explain: the ${ds.kind} datastore holds no NetworkPolicies`);
  }
  try {
    await Promise.all([ds.start(() => {}), ds.policy.start(() => {})]);
    const input = ds.policy.input();
    if (!input) throw new Error("Cannot explain: the datastore could not be read");
    const nodes = new Map(ds.nodes().map((n) => [n.name, n.addresses]));
    const r = explain(resolvePolicies(input), query, nodes);
    print(r.text);
    return r.allowed ? 0 : 3;
  } finally {
    await ds.close().catch(() => {});
  }
}
