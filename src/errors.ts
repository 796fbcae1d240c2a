/**
 * Errors of hostgate. Code below the CNI boundary throws typed errors; only the
 * plugin boundary (src/plugin/dispatch.ts) maps them to CNI error codes, so no
 * caller ever matches an error by its message.
 * @module
 */

/** CNI spec error codes (SPEC.md "Error"), plus hostgate's own range 100+. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginNotAvailableLimited: 51,
  /** hostgate: no address left in the configured range set(s). */
  IpamExhausted: 100,
  /** hostgate: a kernel operation failed. */
  NetlinkFailure: 101,
  /** hostgate: ADD found CNI_IFNAME already present in the pod's netns. */
  InterfaceExists: 102,
  /** hostgate: CHECK found the attachment differs from prevResult. */
  CheckFailed: 103,
  /** hostgate: a requested hostPort is already mapped for another pod. */
  PortInUse: 104,
  /** An unexpected error (libcni's ErrInternal). */
  Internal: 999,
} as const;

/** One of the codes above. */
export type CniCodeValue = typeof CniCode[keyof typeof CniCode];

/** An error that already knows which CNI code it maps to. */
export class CniError extends Error {
  /** The CNI error code written to stdout. */
  readonly code: number;
  /** Longer explanation for the `details` field. */
  readonly details: string;
  constructor(code: number, msg: string, details = "", options?: ErrorOptions) {
    super(msg, options);
    this.name = "CniError";
    this.code = code;
    this.details = details;
  }
}

/** Invalid network configuration value: CNI code 7 naming the key. */
export function invalidConfig(key: string, why: string): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, `Cannot parse config: ${key} ${why}`);
}
