/**
 * hostPort effects, in-process: ADD writes the pod's elements in one
 * nfnetlink batch (map elements exclusive, so a hostPort another pod holds
 * refuses the whole batch); only when the batch finds the table or a set
 * missing (the first pod after boot, an upgrade) is the idempotent
 * definition applied with one `nft -f -`, then the batch retried. DEL
 * removes the pod's elements in-process and creates nothing; CHECK and GC
 * read them back in-process. The UDP conntrack entries of a mapping are
 * flushed when it comes or goes.
 * @module
 */
import type { PortMapping } from "../../cni/mod.ts";
import { CniCode, CniError } from "../../errors.ts";
import { familyOf } from "../../net/mod.ts";
import type { Conntrack, FlowFilter } from "../../system/conntrack.ts";
import type { Logger } from "../../system/log.ts";
import type { Nft } from "../../system/nft.ts";
import {
  EEXIST,
  ENOENT,
  isSetsErrno,
  type NftSets,
  type SetElementOp,
} from "../../system/nftables/mod.ts";
import {
  addOp,
  decodeElement,
  keyBytes,
  prefixProbes,
  removeOps,
  SET_FIELDS,
  setRef,
} from "./elements.ts";
import {
  ELEMENT_SETS,
  parseElementComment,
  type PodPorts,
  PORT_SETS,
  type PortElement,
  portElements,
  type PortSetName,
  renderDefinition,
  renderSourcePrefixes,
  type SourcePrefix,
  sourcePrefixes,
  valuesText,
} from "./render.ts";

/** What the hostPort steps use. */
export interface PortsDeps {
  /** In-process nftables set elements of the node's netns. */
  sets: NftSets;
  /** `nft -f -` for the definition and the per-subnet source prefixes only. */
  nft: Pick<Nft, "apply">;
  conntrack: Conntrack;
  log: Logger;
}

const EBUSY = 16;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function describe(e: PortElement): string {
  const [host, proto, port] = e.key.length === 3 ? e.key : ["every address", ...e.key];
  return `${proto}/${port} on ${host}`;
}

function isMap(set: PortSetName): boolean {
  return SET_FIELDS[set].data !== undefined;
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
          error: messageOf(e),
        })
      )
    ),
  );
}

/** The elements of `p`; a bad mapping is code 7 naming it. */
export function elementsOf(p: PodPorts, field = "runtimeConfig.portMappings"): PortElement[] {
  try {
    return portElements(p);
  } catch (e) {
    const i = (e as { index?: number }).index;
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `Cannot parse config: ${field}[${i ?? "?"}] ${messageOf(e)}`,
    );
  }
}

/**
 * The source prefixes not yet in their set (checked by their first and last
 * address, in-process), or undefined when a prefix set (or the table) is
 * missing: the definition is due.
 */
async function missingPrefixes(
  sets: NftSets,
  prefixes: readonly SourcePrefix[],
): Promise<SourcePrefix[] | undefined> {
  const out: SourcePrefix[] = [];
  for (const p of prefixes) {
    const { ref, keys } = prefixProbes(p);
    for (const key of keys) {
      let found;
      try {
        found = await sets.get(ref, key);
      } catch (e) {
        if (isSetsErrno(e, ENOENT)) return undefined;
        throw e;
      }
      if (!found) {
        out.push(p);
        break;
      }
    }
  }
  return out;
}

/**
 * Derives the masquerade element of every mapping already in the maps (pods
 * mapped by a version whose masquerade sets the definition just replaced).
 */
async function migrate(deps: PortsDeps): Promise<void> {
  const ops: SetElementOp[] = [];
  for (const set of [PORT_SETS.ip4, PORT_SETS.any4, PORT_SETS.ip6, PORT_SETS.any6] as const) {
    for (const raw of await deps.sets.list(setRef(set))) {
      const e = decodeElement(set, raw);
      if (!e?.data || !parseElementComment(e.comment)) continue;
      const proto = e.key[e.key.length - 2]!;
      const snat = set === PORT_SETS.ip4 || set === PORT_SETS.any4
        ? PORT_SETS.snat4
        : PORT_SETS.snat6;
      ops.push(
        addOp({ set: snat, key: [e.data[0], proto, e.data[1]], comment: e.comment }, {
          exclusive: false,
        }),
      );
    }
  }
  await deps.sets.apply(ops);
}

/** The definition (with the pod's source prefixes) in one `nft -f -`, then the migration. */
async function define(deps: PortsDeps, p: PodPorts, prefixes: SourcePrefix[]): Promise<void> {
  const extra = renderSourcePrefixes(p.network, prefixes);
  await deps.nft.apply(renderDefinition() + extra.map((l) => l + "\n").join(""));
  await migrate(deps).catch((e) =>
    deps.log.warn("Cannot derive masquerade elements of existing hostPorts", {
      error: messageOf(e),
    })
  );
}

/** Writes source prefixes a get found absent; a concurrent ADD writing them too is fine. */
async function writePrefixes(
  deps: PortsDeps,
  network: string,
  prefixes: SourcePrefix[],
): Promise<void> {
  try {
    await deps.nft.apply(renderSourcePrefixes(network, prefixes).join("\n") + "\n");
  } catch (e) {
    const still = await missingPrefixes(deps.sets, prefixes);
    if (still === undefined || still.length > 0) throw e;
  }
}

/**
 * Who holds a key that made the exclusive add fail, for the error message;
 * "self" when every present key is this pod's with the same target (a
 * repeated ADD), undefined when the holder is gone already.
 */
async function holderOf(deps: PortsDeps, mine: PortElement[]): Promise<string | undefined> {
  let self = false;
  for (const e of mine) {
    if (!isMap(e.set)) continue;
    const raw = await deps.sets.get(setRef(e.set), keyBytes(e)).catch(() => undefined);
    const other = raw ? decodeElement(e.set, raw) : undefined;
    if (!other) continue;
    if (other.comment === e.comment && other.data?.join() === e.data?.join()) {
      self = true;
      continue;
    }
    const who = parseElementComment(other.comment);
    return `${describe(e)} is already mapped to ${other.data ? valuesText(other.data) : "?"}` +
      (who ? ` for pod ${who.hostVeth} of network ${who.network}` : "");
  }
  return self ? "self" : undefined;
}

/**
 * Adds the pod's mappings atomically, then flushes stale UDP flows of its
 * hostPorts. A hostPort another pod holds is error 104 naming it; nothing
 * of the pod is written then.
 */
export async function ensurePorts(deps: PortsDeps, p: PodPorts): Promise<PortElement[]> {
  const elements = elementsOf(p);
  if (elements.length === 0) return elements;
  const prefixes = sourcePrefixes(p.podIps);
  try {
    let defined = false;
    const missing = await missingPrefixes(deps.sets, prefixes);
    if (missing === undefined) {
      await define(deps, p, prefixes);
      defined = true;
    } else if (missing.length > 0) {
      await writePrefixes(deps, p.network, missing);
    }
    const ops = elements.map((e) => addOp(e, { exclusive: true }));
    try {
      await deps.sets.apply(ops);
    } catch (e) {
      if (!defined && isSetsErrno(e, ENOENT)) {
        await define(deps, p, prefixes);
        await deps.sets.apply(ops);
      } else throw e;
    }
  } catch (e) {
    if (e instanceof CniError) throw e;
    if (isSetsErrno(e, EEXIST)) {
      const who = await holderOf(deps, elements);
      if (who === "self") {
        await deps.sets.apply(elements.map((x) => addOp(x, { exclusive: false })));
      } else {
        throw new CniError(
          CniCode.PortInUse,
          `Cannot map host ports: ${
            who ?? "a requested hostPort is already in use by another pod"
          }`,
          messageOf(e),
        );
      }
    } else {
      throw new CniError(CniCode.Internal, `Cannot add hostPort rules: ${messageOf(e)}`);
    }
  }
  await flushFlows(deps, udpFlows(p.mappings, p.podIps));
  return elements;
}

/**
 * Removes elements in one batch; when that is refused for a missing set or
 * another pod's key, element by element, skipping those (nothing is ever
 * created: an add into a missing table or set fails). Returns how many
 * elements held by another pod were left alone.
 */
async function removeElements(deps: PortsDeps, elements: readonly PortElement[]) {
  const pairs = elements.map(removeOps);
  try {
    await deps.sets.apply(pairs.flat());
    return 0;
  } catch (e) {
    if (!isSetsErrno(e, ENOENT) && !isSetsErrno(e, EBUSY)) throw e;
  }
  let foreign = 0;
  for (const [i, pair] of pairs.entries()) {
    try {
      await deps.sets.apply(pair);
    } catch (e) {
      if (isSetsErrno(e, ENOENT)) continue;
      if (!isSetsErrno(e, EBUSY)) throw e;
      foreign++;
      deps.log.warn("hostPort held by another pod left alone", { mapping: describe(elements[i]!) });
    }
  }
  return foreign;
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
    await removeElements(deps, elements);
  } catch (e) {
    throw new CniError(CniCode.Internal, `Cannot remove hostPort rules: ${messageOf(e)}`);
  }
  await flushFlows(deps, udpFlows(p.mappings, p.podIps));
}

function checkFailed(what: string): CniError {
  return new CniError(CniCode.CheckFailed, `Cannot confirm attachment: ${what}`);
}

/** CHECK: every element of the pod (and its source prefixes) is in the kernel; 103 otherwise. */
export async function checkPorts(deps: PortsDeps, p: PodPorts): Promise<void> {
  const want = elementsOf(p);
  if (want.length === 0) return;
  for (const e of want) {
    const raw = await deps.sets.get(setRef(e.set), keyBytes(e)).catch((err) => {
      if (isSetsErrno(err, ENOENT)) return undefined;
      throw err;
    });
    const have = raw ? decodeElement(e.set, raw) : undefined;
    const what = isMap(e.set) ? `hostPort ${describe(e)}` : `masquerade entry ${valuesText(e.key)}`;
    if (!have) throw checkFailed(`${what} is missing in ${e.set}`);
    if (isMap(e.set) && have.data?.join() !== e.data?.join()) {
      throw checkFailed(`${what} maps to ${have.data ? valuesText(have.data) : "?"} in ${e.set}`);
    }
  }
  const missing = await missingPrefixes(deps.sets, sourcePrefixes(p.podIps));
  if (missing === undefined || missing.length > 0) {
    const which = missing?.map((m) => m.cidr).join(", ") ?? "every pod subnet";
    throw checkFailed(`masquerade source ${which} is missing`);
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
  const stale: PortElement[] = [];
  for (const set of ELEMENT_SETS) {
    let listed;
    try {
      listed = await deps.sets.list(setRef(set));
    } catch (e) {
      if (isSetsErrno(e, ENOENT)) continue;
      throw e;
    }
    for (const raw of listed) {
      const e = decodeElement(set, raw);
      const who = parseElementComment(e?.comment);
      if (!e || !who || who.network !== opts.network || opts.keep.has(who.hostVeth)) continue;
      stale.push(e);
    }
  }
  if (stale.length === 0) return 0;
  await removeElements(deps, stale);
  return stale.length;
}
