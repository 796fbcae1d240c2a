/**
 * hostPort effects: apply one pod's elements in one `nft -f -` transaction,
 * remove them, verify them, collect stale ones, and flush the UDP conntrack
 * entries of a mapping when it comes or goes.
 * @module
 */
import type { PortMapping } from "../../cni/mod.ts";
import { CniCode, CniError } from "../../errors.ts";
import type { Conntrack, FlowFilter } from "../../system/conntrack.ts";
import type { NftObject, NftSets } from "../../system/nft.ts";
import { familyOf } from "../../net/mod.ts";
import type { Logger } from "../../system/log.ts";
import {
  parseElementComment,
  type PodPorts,
  PORT_SETS,
  type PortElement,
  portElements,
  PORTS_TABLE,
  renderPortsAdd,
  renderPortsRemove,
} from "./render.ts";

/** What the hostPort steps use. */
export interface PortsDeps {
  nft: NftSets;
  conntrack: Conntrack;
  log: Logger;
}

const MAPS = new Set<string>([PORT_SETS.ip4, PORT_SETS.any4, PORT_SETS.ip6, PORT_SETS.any6]);

function describeKey(e: PortElement): string {
  const parts = e.key.split(" . ");
  const [host, proto, port] = parts.length === 3 ? parts : ["every address", ...parts];
  return `${proto}/${port} on ${host}`;
}

/** The UDP flows whose original destination is one of the pod's UDP hostPorts. */
export function udpFlows(
  mappings: readonly PortMapping[],
  podIps: readonly string[],
): FlowFilter[] {
  const families = new Set(podIps.map((c) => familyOf(c)));
  const out = new Map<string, FlowFilter>();
  for (const m of mappings) {
    if (m.protocol !== "udp") continue;
    for (const family of families) {
      if (m.hostIP !== undefined && familyOf(m.hostIP) !== family) continue;
      const f: FlowFilter = { family, protocol: "udp", origDstPort: m.hostPort };
      if (m.hostIP !== undefined) f.origDst = m.hostIP;
      out.set(JSON.stringify(f), f);
    }
  }
  return [...out.values()];
}

async function flushFlows(deps: PortsDeps, flows: FlowFilter[]): Promise<void> {
  await Promise.all(
    flows.map((f) =>
      deps.conntrack.deleteFlows(f).catch((e) =>
        deps.log.warn("Cannot flush UDP conntrack entries", {
          port: f.origDstPort,
          error: e instanceof Error ? e.message : String(e),
        })
      )
    ),
  );
}

/** The elements of `p` as nft text pieces; a bad mapping is code 7 naming it. */
export function elementsOf(p: PodPorts, field = "runtimeConfig.portMappings"): PortElement[] {
  try {
    return portElements(p);
  } catch (e) {
    const i = (e as { index?: number }).index;
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `Cannot parse config: ${field}[${i ?? "?"}] ${(e as Error).message}`,
    );
  }
}

/** Finds who holds a key that made `create element` fail, for the error message. */
async function holderOf(deps: PortsDeps, mine: PortElement[]): Promise<string | undefined> {
  const listed = await deps.nft.listJson(PORTS_TABLE.family, PORTS_TABLE.name).catch(() => []);
  const have = listedElements(listed ?? []);
  for (const e of mine) {
    if (e.value === undefined) continue;
    const other = have.find((h) => h.set === e.set && h.key === e.key);
    if (other && other.comment !== e.comment) {
      const who = parseElementComment(other.comment);
      return `${describeKey(e)} is already mapped to ${other.value ?? "?"}` +
        (who ? ` for pod ${who.hostVeth} of network ${who.network}` : "");
    }
  }
  return undefined;
}

/**
 * Adds the pod's mappings atomically, then flushes stale UDP flows of its
 * hostPorts. A hostPort another pod holds is error 104 naming it; nothing
 * is changed then.
 */
export async function ensurePorts(deps: PortsDeps, p: PodPorts): Promise<PortElement[]> {
  const elements = elementsOf(p);
  if (elements.length === 0) return elements;
  try {
    await deps.nft.apply(renderPortsAdd(elements));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/File exists/.test(msg)) {
      const who = await holderOf(deps, elements);
      throw new CniError(
        CniCode.PortInUse,
        `Cannot map host ports: ${who ?? "a requested hostPort is already in use by another pod"}`,
        msg,
      );
    }
    throw new CniError(CniCode.Internal, `Cannot add hostPort rules: ${msg}`);
  }
  await flushFlows(deps, udpFlows(p.mappings, p.podIps));
  return elements;
}

/** Removes the pod's mappings (absent ones are fine), then flushes their UDP flows. */
export async function removePorts(deps: PortsDeps, p: PodPorts): Promise<void> {
  let elements: PortElement[];
  try {
    elements = portElements(p);
  } catch {
    elements = [];
  }
  if (elements.length === 0) return;
  try {
    await deps.nft.apply(renderPortsRemove(elements));
  } catch (e) {
    throw new CniError(
      CniCode.Internal,
      `Cannot remove hostPort rules: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  await flushFlows(deps, udpFlows(p.mappings, p.podIps));
}

/** An element as listed by `nft -j`. */
export interface ListedElement {
  set: string;
  key: string;
  value?: string;
  comment?: string;
}

function atom(v: unknown): string {
  if (typeof v === "string" || typeof v === "number") return String(v);
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    if ("concat" in o && Array.isArray(o["concat"])) return o["concat"].map(atom).join(" . ");
    if ("prefix" in o) {
      const p = o["prefix"] as { addr: string; len: number };
      return `${p.addr}/${p.len}`;
    }
    if ("range" in o && Array.isArray(o["range"])) return o["range"].map(atom).join("-");
  }
  return JSON.stringify(v);
}

/** Every element of hostgate's hostPort maps and sets in a `nft -j` table listing. */
export function listedElements(objects: readonly NftObject[]): ListedElement[] {
  const out: ListedElement[] = [];
  for (const o of objects) {
    const s = o["map"] ?? o["set"];
    if (!s || !Object.values(PORT_SETS).includes(s["name"] as never)) continue;
    const set = s["name"] as string;
    for (const raw of (s["elem"] ?? []) as unknown[]) {
      const [k, v] = Array.isArray(raw) ? raw : [raw, undefined];
      const wrapped: { val: unknown; comment?: string } =
        typeof k === "object" && k !== null && "elem" in k
          ? (k as { elem: { val: unknown; comment?: string } }).elem
          : { val: k };
      const e: ListedElement = { set, key: atom(wrapped.val) };
      if (v !== undefined) e.value = atom(v);
      if (wrapped.comment !== undefined) e.comment = wrapped.comment;
      out.push(e);
    }
  }
  return out;
}

/** CHECK: every element of the pod is in the kernel with its target; error 103 otherwise. */
export async function checkPorts(deps: PortsDeps, p: PodPorts): Promise<void> {
  const want = elementsOf(p);
  if (want.length === 0) return;
  const listed = await deps.nft.listJson(PORTS_TABLE.family, PORTS_TABLE.name);
  const have = listedElements(listed ?? []);
  for (const e of want) {
    const h = have.find((x) => x.set === e.set && x.key === e.key);
    if (!h || (MAPS.has(e.set) && h.value !== e.value)) {
      const what = e.value === undefined ? "masquerade entry" : `hostPort ${describeKey(e)}`;
      throw new CniError(
        CniCode.CheckFailed,
        `Cannot confirm attachment: ${what} ${h ? `maps to ${h.value}` : "is missing"} in ${e.set}`,
      );
    }
  }
}

/**
 * GC: removes every element of `network` whose pod is not in `keep` (host
 * veth names), also those whose record was lost. Returns how many.
 */
export async function gcPorts(
  deps: PortsDeps,
  opts: { network: string; keep: ReadonlySet<string> },
): Promise<number> {
  const listed = await deps.nft.listJson(PORTS_TABLE.family, PORTS_TABLE.name);
  if (!listed) return 0;
  const stale: PortElement[] = [];
  for (const e of listedElements(listed)) {
    const who = parseElementComment(e.comment);
    if (!who || who.network !== opts.network || opts.keep.has(who.hostVeth)) continue;
    const el: PortElement = { set: e.set, key: e.key, comment: e.comment! };
    if (e.value !== undefined) el.value = e.value;
    stale.push(el);
  }
  if (stale.length === 0) return 0;
  await deps.nft.apply(renderPortsRemove(stale));
  return stale.length;
}
