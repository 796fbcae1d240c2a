/**
 * The stored form of a node, shared by the file and etcd datastores: one JSON
 * object per node. Parsing validates every field, so a foreign or damaged
 * entry is rejected here and never reaches the agent's route computation.
 * @module
 */

import { type EntryReject, MAX_ENTRY_BYTES, type NodeInfo, type Vtep } from "./types.ts";
import { normalizeCidr, parseAddress } from "./subnets.ts";

/** DNS-1123 subdomain, as Kubernetes node names; also safe as a file name and key. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Longest Kubernetes object name (a DNS-1123 subdomain). */
const MAX_NODE_NAME_LENGTH = 253;

/** Throws unless `name` is a valid node name (DNS-1123 subdomain, <= 253 chars). */
export function validateNodeName(name: string): void {
  if (typeof name !== "string" || name.length > MAX_NODE_NAME_LENGTH || !NODE_NAME.test(name)) {
    throw new Error(`Cannot use node name: ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  }
}

function fail(why: string): never {
  throw new Error(`Cannot parse node entry: ${why}`);
}

function stringArray(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    fail(`${field} is not an array of strings`);
  }
  return v as string[];
}

function parseVtep(v: unknown): Vtep | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object") fail("vtep is not an object");
  const { mac, ip } = v as Record<string, unknown>;
  if (typeof mac !== "string" || !MAC.test(mac)) fail("vtep.mac is not a MAC address");
  if (typeof ip !== "string" || parseAddress(ip) === undefined) fail("vtep.ip is not an address");
  return { mac: mac.toLowerCase(), ip };
}

/**
 * Validates a decoded entry and returns it in canonical form (normalized
 * CIDRs, no extra fields). `expectedName` guards against an entry stored under
 * another node's key or file name.
 */
export function toNodeInfo(value: unknown, expectedName?: string): NodeInfo {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("not a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (typeof o.name !== "string") fail("name is missing");
  validateNodeName(o.name);
  if (expectedName !== undefined && o.name !== expectedName) {
    fail(`name ${o.name} does not match its key ${expectedName}`);
  }
  const podCidrs = stringArray(o.podCidrs ?? [], "podCidrs").map((c) => {
    try {
      return normalizeCidr(c);
    } catch {
      return fail(`podCidrs has ${JSON.stringify(c)}, not a CIDR`);
    }
  });
  const addresses = stringArray(o.addresses ?? [], "addresses");
  for (const a of addresses) {
    if (parseAddress(a) === undefined) fail(`address ${JSON.stringify(a)}`);
  }
  const vtep = parseVtep(o.vtep);
  return vtep ? { name: o.name, podCidrs, addresses, vtep } : { name: o.name, podCidrs, addresses };
}

/** Parses JSON text of a node entry (see `toNodeInfo`). */
export function parseNodeEntry(text: string, expectedName?: string): NodeInfo {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail(`not JSON (${(e as Error).message})`);
  }
  return toNodeInfo(value, expectedName);
}

/** The stored JSON of a node: fixed key order so equal nodes have equal text. */
export function encodeNodeEntry(node: NodeInfo): string {
  const out: NodeInfo = { name: node.name, podCidrs: node.podCidrs, addresses: node.addresses };
  if (node.vtep) out.vtep = { mac: node.vtep.mac, ip: node.vtep.ip };
  return JSON.stringify(out);
}

/**
 * The entry as it reads back after a write: encoding and parsing it again
 * validates names, addresses and the VTEP before anything is written, and
 * gives the canonical spelling the other agents will see.
 */
export function storedNode(node: NodeInfo): NodeInfo {
  return parseNodeEntry(encodeNodeEntry(node));
}

/** True when two nodes would be stored identically. */
export function sameNode(a: NodeInfo | undefined, b: NodeInfo | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return encodeNodeEntry(a) === encodeNodeEntry(b);
}

/** A deep-frozen copy, so a snapshot handed to the agent cannot be changed under the datastore. */
export function freezeNode(node: NodeInfo): NodeInfo {
  const copy: NodeInfo = {
    name: node.name,
    podCidrs: Object.freeze([...node.podCidrs]) as string[],
    addresses: Object.freeze([...node.addresses]) as string[],
  };
  if (node.vtep) copy.vtep = Object.freeze({ mac: node.vtep.mac, ip: node.vtep.ip });
  if (node.ownership) {
    copy.ownership = Object.freeze({
      source: node.ownership.source,
      subnets: Object.freeze([...node.ownership.subnets]),
      ...(node.ownership.since !== undefined ? { since: node.ownership.since } : {}),
    });
  }
  return Object.freeze(copy);
}

/** Nodes sorted by name: snapshots are deterministic. */
export function sortNodes(nodes: Iterable<NodeInfo>): NodeInfo[] {
  return [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** How much of a refused value a reject shows. */
const REJECT_SHOWN_CHARS = 64;

/**
 * Decodes a stored entry of `size` bytes, refusing an oversized one before
 * its text is even read (`text` is called only when the size is fine): the
 * node, or the reject the backend reports instead of routing it.
 */
export function decodeNodeEntry(
  name: string,
  size: number,
  text: () => string,
): NodeInfo | EntryReject {
  if (size > MAX_ENTRY_BYTES) {
    return {
      node: name,
      field: "entry",
      value: `${size} bytes`,
      reason: "oversize",
      detail: `larger than ${MAX_ENTRY_BYTES} bytes; not parsed`,
    };
  }
  const t = text();
  try {
    return parseNodeEntry(t, name);
  } catch (e) {
    return {
      node: name,
      field: "entry",
      value: t.slice(0, REJECT_SHOWN_CHARS),
      reason: "garbage",
      detail: e instanceof Error ? e.message : String(e),
    };
  }
}

/** True for what `decodeNodeEntry` returns when it refused the entry. */
export function isEntryReject(x: NodeInfo | EntryReject): x is EntryReject {
  return "reason" in x;
}
