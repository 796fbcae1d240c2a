/**
 * Subnet claims of the file datastore, its ownership record: one file per
 * claimed subnet, `<dir>/claims/<cidr with "/" as "_">`, holding the owner's
 * name. Claims are created and removed only under the store's lock, apart
 * from the node entries, so an entry that names another node's subnet (a
 * hand edit, a restored file, a bug) owns nothing, and a node keeps its
 * subnet while its claim exists even when its entry or the whole nodes/
 * folder is gone for a while.
 * @module
 */
import type { FileSystem } from "../../system/fs.ts";
import { normalizeCidr } from "../subnets.ts";
import { validateNodeName } from "../node_entry.ts";

/** Longest claim file read (a node name is at most 253 bytes). */
const MAX_CLAIM_BYTES = 512;

/** Path of the claims directory. */
export function claimsDir(dir: string): string {
  return `${dir.replace(/\/+$/, "")}/claims`;
}

/** Path of one claim ("10.244.1.0/24" -> claims/10.244.1.0_24). */
export function claimPath(dir: string, cidr: string): string {
  return `${claimsDir(dir)}/${normalizeCidr(cidr).replace("/", "_")}`;
}

/** Subnet (canonical) -> owner name. */
export type Claims = Map<string, string>;

/**
 * Reads every claim; files that are not claims are ignored. Throws when the
 * directory is missing while `required` (entries exist, so claims must too):
 * a missing record is a fault, never "nobody owns anything".
 */
export async function readClaims(
  fs: FileSystem,
  dir: string,
  opts: { required: boolean },
): Promise<Claims> {
  const path = claimsDir(dir);
  if (opts.required && !(await fs.exists(path))) {
    throw new Error(`Cannot read ${path}: it is missing`);
  }
  const out: Claims = new Map();
  for (const e of await fs.readDir(path)) {
    if (!e.isFile || e.name.startsWith(".")) continue;
    let cidr: string;
    try {
      cidr = normalizeCidr(e.name.replace("_", "/"));
    } catch {
      continue;
    }
    const text = await fs.readText(`${path}/${e.name}`);
    if (text === undefined || text.length > MAX_CLAIM_BYTES) continue;
    const owner = text.trim();
    try {
      validateNodeName(owner);
    } catch {
      continue;
    }
    out.set(cidr, owner);
  }
  return out;
}

/** The owner of one subnet's claim, or undefined when it has none (or an unreadable one). */
export async function readClaimOf(
  fs: FileSystem,
  dir: string,
  cidr: string,
): Promise<string | undefined> {
  let path: string;
  try {
    path = claimPath(dir, cidr);
  } catch {
    return undefined;
  }
  const text = await fs.readText(path);
  if (text === undefined || text.length > MAX_CLAIM_BYTES) return undefined;
  try {
    validateNodeName(text.trim());
    return text.trim();
  } catch {
    return undefined;
  }
}

/** The subnets `name` owns, in claim order. */
export function ownedBy(claims: Claims, name: string): string[] {
  return [...claims].filter(([, owner]) => owner === name).map(([cidr]) => cidr);
}

/** Writes a claim (call under the store's lock). */
export async function writeClaim(
  fs: FileSystem,
  dir: string,
  cidr: string,
  owner: string,
): Promise<void> {
  await fs.mkdirp(claimsDir(dir));
  await fs.writeAtomic(claimPath(dir, cidr), `${owner}\n`, { mode: 0o644 });
}

/** Removes a claim (call under the store's lock). */
export function removeClaim(fs: FileSystem, dir: string, cidr: string): Promise<boolean> {
  return fs.remove(claimPath(dir, cidr));
}
