/**
 * The guard of hostgate before the shared tables: `table netdev
 * hostgate-guard`, one base chain per host veth (named after it, `hg` + 12
 * hex) hooked on that veth's ingress. Nothing creates these any more; after
 * an upgrade, DEL, ADD and GC remove the chain of a veth they handle, and
 * GC drops the table once it is empty. Pure payloads.
 * @module
 */
import { parseNftTable } from "../../system/nft.ts";

/** The legacy table. */
export const LEGACY_TABLE = { family: "netdev", name: "hostgate-guard" } as const;

/** Matches a chain name the plugin may have made (a host veth name). */
export const LEGACY_CHAIN_PATTERN = /^hg[0-9a-f]{12}$/;

const T = `${LEGACY_TABLE.family} ${LEGACY_TABLE.name}`;

/**
 * The payload removing the chains `hostVeths` (absent ones included: each is
 * created plain first, so the delete never fails), and the table too when
 * `dropTable`; "" when there is nothing to do.
 */
export function renderLegacyRemove(hostVeths: readonly string[], dropTable = false): string {
  if (hostVeths.length === 0 && !dropTable) return "";
  const out = [`add table ${T}`];
  for (const v of hostVeths) {
    out.push(`add chain ${T} ${v}`, `flush chain ${T} ${v}`, `delete chain ${T} ${v}`);
  }
  if (dropTable) out.push(`delete table ${T}`);
  return out.join("\n") + "\n";
}

/** The guard chains of `nft list table netdev hostgate-guard` (only names the plugin makes). */
export function parseLegacyChains(text: string | undefined): string[] {
  if (text === undefined) return [];
  return [...parseNftTable(text).chains.keys()].filter((n) => LEGACY_CHAIN_PATTERN.test(n));
}
