/**
 * Test support for the plugin's unit tests: an in-memory IPAM with fault
 * injection, and one call that runs `dispatch` against FakeNetlink the way
 * a runtime would (env + stdin in, stdout JSON + exit code out). Not used by
 * the plugin itself.
 * @module
 */
import { CniCode, CniError } from "../errors.ts";
import type { Attachment, Ipam, IpamOwner, IpamResult, IpamRoute } from "../ipam/types.ts";
import { RealClock } from "../system/clock.ts";
import type { Exec, ExecResult } from "../system/exec.ts";
import { FakeConntrack } from "../system/conntrack.ts";
import { FakeFileSystem } from "../system/fake_fs.ts";
import { FakePortsKernel } from "./ports/testing.ts";
import { FakeGuardNft } from "./guard/testing.ts";
import { FakeNftSets as FakeElementSets } from "../system/nftables/mod.ts";
import { FakeTc } from "../system/tc.ts";
import { FakeNetlink } from "../system/netlink/mod.ts";
import type { PluginDeps } from "./deps.ts";
import { ALL_COMMANDS } from "./commands/mod.ts";
import { dispatch } from "./dispatch.ts";
import { memoryLogger } from "../system/log.ts";

/** Options of FakeIpam. */
export interface FakeIpamOptions {
  /** v4 subnet prefix like "10.22.0" (a /24); addresses from .2 on. */
  v4?: string;
  /** v6 subnet prefix like "fd00:22::" (a /64). */
  v6?: string;
  /** How many attachments fit before ADD is exhausted. */
  capacity?: number;
  routes?: IpamRoute[];
}

type Op = "add" | "del" | "check" | "gc" | "status";

/** An in-memory Ipam: sequential addresses, per-op fault injection, a call log. */
export class FakeIpam implements Ipam {
  readonly held = new Map<string, number>();
  readonly calls: { op: Op; owner?: IpamOwner; requestedIps?: string[] }[] = [];
  readonly #faults = new Map<Op, Error[]>();
  readonly #opts: FakeIpamOptions;
  #next = 2;

  constructor(opts: FakeIpamOptions = {}) {
    this.#opts = { v4: "10.22.0", capacity: 200, routes: [], ...opts };
  }

  /** Makes the next call of `op` throw `err`. */
  failNext(op: Op, err: Error): void {
    this.#faults.set(op, [...(this.#faults.get(op) ?? []), err]);
  }

  #enter(op: Op, owner?: IpamOwner, requestedIps?: string[]): void {
    this.calls.push({ op, ...(owner ? { owner } : {}), ...(requestedIps ? { requestedIps } : {}) });
    const err = this.#faults.get(op)?.shift();
    if (err) throw err;
  }

  #ips(n: number): string[] {
    const out: string[] = [];
    if (this.#opts.v4) out.push(`${this.#opts.v4}.${n}/24`);
    if (this.#opts.v6) out.push(`${this.#opts.v6}${n.toString(16)}/64`);
    return out;
  }

  addressesOf(owner: { containerId: string; ifname: string }): string[] {
    const n = this.held.get(`${owner.containerId}/${owner.ifname}`);
    return n === undefined ? [] : this.#ips(n);
  }

  add(owner: IpamOwner, opts?: { requestedIps?: string[] }): Promise<IpamResult> {
    this.#enter("add", owner, opts?.requestedIps);
    const key = `${owner.containerId}/${owner.ifname}`;
    let n = this.held.get(key);
    if (n === undefined) {
      if (this.held.size >= this.#opts.capacity!) {
        return Promise.reject(
          new CniError(CniCode.IpamExhausted, "Cannot allocate: range set 0 is full"),
        );
      }
      n = this.#next++;
      this.held.set(key, n);
    }
    const ips = this.#ips(n).map((address) => ({
      family: address.includes(":") ? 6 as const : 4 as const,
      address,
      gateway: address.includes(":") ? `${this.#opts.v6}1` : `${this.#opts.v4}.1`,
    }));
    return Promise.resolve({ ips, routes: structuredClone(this.#opts.routes!) });
  }

  del(owner: IpamOwner): Promise<void> {
    this.#enter("del", owner);
    this.held.delete(`${owner.containerId}/${owner.ifname}`);
    return Promise.resolve();
  }

  check(owner: IpamOwner, ips: string[]): Promise<void> {
    this.#enter("check", owner);
    const have = this.addressesOf(owner).map((a) => a.split("/")[0]);
    for (const ip of ips) {
      if (!have.includes(ip)) {
        return Promise.reject(new CniError(CniCode.UnknownContainer, `Cannot find ${ip}`));
      }
    }
    return Promise.resolve();
  }

  gc(valid: Attachment[]): Promise<void> {
    this.#enter("gc");
    const keep = new Set(valid.map((a) => `${a.containerId}/${a.ifname}`));
    for (const k of [...this.held.keys()]) if (!keep.has(k)) this.held.delete(k);
    return Promise.resolve();
  }

  status(): Promise<void> {
    this.#enter("status");
    if (this.held.size >= this.#opts.capacity!) {
      return Promise.reject(new CniError(CniCode.IpamExhausted, "Cannot allocate: full"));
    }
    return Promise.resolve();
  }
}

/** An Exec that refuses everything: the hostgate-local path must spawn nothing. */
export class NoExec implements Exec {
  readonly calls: string[][] = [];
  run(argv: string[]): Promise<ExecResult> {
    this.calls.push(argv);
    return Promise.reject(new Error(`Cannot run ${argv[0]}: no process may be spawned here`));
  }
}

/** A node (netns "") plus pods, a fake IPAM and deps wired for dispatch. */
export interface Harness {
  netlink: FakeNetlink;
  ipam: FakeIpam;
  exec: NoExec;
  fs: FakeFileSystem;
  /** The hostPort table: its `nft -f` definition and in-process elements (`.sets`). */
  nft: FakePortsKernel;
  /** The anti-spoofing tables' nft (definition; legacy chains in `.legacy`). */
  guardNft: FakeGuardNft;
  /** The anti-spoofing set elements (also `guardNft.sets`). */
  guardSets: FakeElementSets;
  conntrack: FakeConntrack;
  tc: FakeTc;
  deps: PluginDeps;
  log: ReturnType<typeof memoryLogger>;
}

/** Builds a harness with the given pod netns paths. */
export function harness(opts: { pods?: string[]; ipam?: FakeIpamOptions } = {}): Harness {
  const netlink = new FakeNetlink();
  for (const p of opts.pods ?? [TEST_POD]) netlink.addNetns(p);
  const ipam = new FakeIpam(opts.ipam);
  const exec = new NoExec();
  const guardSets = new FakeElementSets();
  const guardNft = new FakeGuardNft(guardSets);
  const log = memoryLogger();
  const fs = new FakeFileSystem();
  const nft = new FakePortsKernel();
  const conntrack = new FakeConntrack();
  const tc = new FakeTc({
    exists: (dev) => {
      const host = netlink.open();
      try {
        return host.getLink(dev) !== undefined;
      } finally {
        host.close();
      }
    },
  });
  const deps: PluginDeps = {
    netlink,
    fs,
    nft,
    portSets: nft.sets,
    conntrack,
    tc,
    exec,
    guardNft,
    guardSets,
    clock: new RealClock(),
    log,
    ipam: () => ipam,
    commands: ALL_COMMANDS,
  };
  return { netlink, ipam, exec, fs, nft, guardNft, guardSets, conntrack, tc, deps, log };
}

/** The pod netns `invoke` passes unless told otherwise. */
export const TEST_POD = "/run/netns/pod1";

/** Puts a veth `name` on the node with its `peerName` end in `peerNetns` (default TEST_POD). */
export function addNodeVeth(
  h: Harness,
  link: { name: string; peerName: string; peerNetns?: string },
): void {
  const host = h.netlink.open();
  try {
    host.addVeth({ peerNetns: TEST_POD, ...link });
  } finally {
    host.close();
  }
}

/** The conflist entry most tests use. */
export function netconf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: "1.1.0",
    name: "hgnet",
    type: "hostgate",
    bridge: "hg-br0",
    isDefaultGateway: true,
    ipam: { type: "hostgate-local", subnet: "10.22.0.0/24" },
    ...extra,
  };
}

/** One invocation's outcome. */
export interface Invocation {
  exitCode: number;
  stdout: string;
  /** Parsed stdout, or undefined when stdout is empty. */
  json?: Record<string, unknown>;
}

/** Runs `command` through dispatch like a runtime would. */
export async function invoke(
  h: Harness,
  command: string,
  opts: {
    conf?: Record<string, unknown>;
    containerId?: string;
    ifname?: string;
    netns?: string | null;
    args?: string;
    env?: Record<string, string | undefined>;
    stdin?: string;
  } = {},
): Promise<Invocation> {
  const env: Record<string, string | undefined> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: opts.containerId ?? "ctr1",
    CNI_IFNAME: opts.ifname ?? "eth0",
    CNI_PATH: "/opt/cni/bin",
    ...(opts.netns === null ? {} : { CNI_NETNS: opts.netns ?? TEST_POD }),
    ...(opts.args ? { CNI_ARGS: opts.args } : {}),
    ...opts.env,
  };
  const stdin = opts.stdin ?? JSON.stringify(opts.conf ?? netconf());
  const out = await dispatch({ env, stdin }, h.deps);
  const text = out.stdout.trim();
  const inv: Invocation = { exitCode: out.exitCode, stdout: out.stdout };
  if (text) inv.json = JSON.parse(text);
  return inv;
}
