/**
 * A cheap fingerprint of an iptables-legacy table: IPT_SO_GET_INFO
 * (getsockopt on a raw socket, one syscall, no process spawned) returns the
 * table's hook offsets, rule count and blob size, which change whenever a
 * rule or chain is added or deleted. iptables-legacy sends no change
 * notifications, so the agent polls this instead of running iptables-save.
 * @module
 */
import { AF_INET, AF_INET6, SOCK_CLOEXEC, SOCK_RAW } from "./constants.ts";
import { Errno, kernelError } from "./errno.ts";
import { errno, type Libc } from "./libc.ts";

const IPPROTO_RAW = 255;
const SOL_IP = 0;
const SOL_IPV6 = 41;
/** IPT_SO_GET_INFO and IP6T_SO_GET_INFO. */
const SO_GET_INFO = 64;
/** struct ipt_getinfo: name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size. */
const INFO_LEN = 84;
const NAME_LEN = 32;

/** Reads legacy table fingerprints of one family through one raw socket. */
export class XtablesInfo {
  readonly #libc: Libc;
  readonly #fd: number;
  readonly #level: number;
  readonly #buf = new Uint8Array(INFO_LEN);
  readonly #len = new Uint8Array(4);
  #closed = false;

  /** Opens the raw socket (needs CAP_NET_RAW) in the caller's netns. */
  constructor(libc: Libc, family: 4 | 6) {
    this.#libc = libc;
    this.#level = family === 4 ? SOL_IP : SOL_IPV6;
    this.#fd = libc.symbols.socket(
      family === 4 ? AF_INET : AF_INET6,
      SOCK_RAW | SOCK_CLOEXEC,
      IPPROTO_RAW,
    );
    if (this.#fd < 0) {
      throw kernelError({
        errno: errno(libc),
        action: "open an iptables socket",
        subject: "netns",
      });
    }
  }

  /**
   * The table's fingerprint (hex of everything after its name), or "absent"
   * when the kernel has no such legacy table.
   */
  fingerprint(table: string): string {
    if (this.#closed) throw new Error("Cannot read iptables info: closed");
    this.#buf.fill(0);
    new TextEncoder().encodeInto(table.slice(0, NAME_LEN - 1), this.#buf);
    new DataView(this.#len.buffer).setUint32(0, INFO_LEN, true);
    const r = this.#libc.symbols.getsockopt(
      this.#fd,
      this.#level,
      SO_GET_INFO,
      this.#buf,
      this.#len,
    );
    if (r !== 0) {
      const e = errno(this.#libc);
      if (e === Errno.ENOENT) return "absent";
      throw kernelError({ errno: e, action: `read iptables table ${table}`, subject: "netns" });
    }
    let out = "";
    for (let i = NAME_LEN; i < INFO_LEN; i++) out += this.#buf[i]!.toString(16).padStart(2, "0");
    return out;
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#libc.symbols.close(this.#fd);
  }
}
