/**
 * Errors of the IPPool backend that carry their own CNI code.
 * @module
 */
import type { Family } from "../../net/mod.ts";
import { IpamExhaustedError } from "../errors.ts";

/**
 * No free address in an IPPool (code 100, like IpamExhaustedError of
 * hostgate-local, which STATUS maps to 50).
 */
export class PoolExhaustedError extends IpamExhaustedError {
  readonly pool: string;
  constructor(pool: string, family: Family, ranges: string) {
    super(0, ranges);
    this.message = `Cannot allocate an IP address: IPPool ${pool} has no free IPv${family} ` +
      `address (${ranges}): every one is reserved or held by a pod that still exists`;
    this.name = "PoolExhaustedError";
    this.pool = pool;
  }
}
