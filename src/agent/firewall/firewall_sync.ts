/**
 * The effectful side of the rules: reads the current rules, compares them
 * with the spec (firewall.ts) and writes only when they differ. One driver
 * per backend; `createFirewallDriver` picks it, detecting the iptables
 * flavour as kube-proxy does unless the config names one.
 * @module
 */
import type { Exec } from "../../system/exec.ts";
import { renderVxlanGuard } from "./vxlan_guard.ts";
import {
  detectIptablesMode,
  ExecIptables,
  type Iptables,
  type IptablesMode,
} from "../../system/iptables.ts";
import { ExecNft, type Nft } from "../../system/nft.ts";
import type { FirewallBackendName } from "../cli/mod.ts";
import {
  cidrOf,
  type FirewallSpec,
  inspectIptables,
  NFT_TABLE,
  nftHasAgentChains,
  nftInSync,
  renderIptablesRemoval,
  renderIptablesRestore,
  renderNft,
  renderNftRemoval,
} from "./firewall.ts";

/** Keeps hostgate's rules in line with a spec. */
export interface FirewallDriver {
  /** "iptables-legacy", "iptables-nft", "nftables" or "none". */
  readonly name: string;
  /** Writes what differs; returns true when it wrote something. */
  sync(spec: FirewallSpec): Promise<boolean>;
  /** True when the rules already match (reads only). */
  inSync(spec: FirewallSpec): Promise<boolean>;
  /** Removes hostgate's chains/table and jumps; returns true when it removed something. */
  remove(): Promise<boolean>;
}

/** iptables (legacy or nft flavour), v4 and v6 through their own programs. */
export class IptablesDriver implements FirewallDriver {
  readonly name: string;
  readonly #ipt: Record<4 | 6, Iptables>;

  constructor(opts: { v4: Iptables; v6: Iptables }) {
    this.#ipt = { 4: opts.v4, 6: opts.v6 };
    this.name = `iptables-${opts.v4.mode}`;
  }

  async sync(spec: FirewallSpec): Promise<boolean> {
    let wrote = false;
    for (const family of [4, 6] as const) {
      if (cidrOf(spec, family) === undefined) continue;
      const ipt = this.#ipt[family];
      const saved = await ipt.save();
      const payload = renderIptablesRestore(saved, spec, family) +
        (family === 4 ? renderVxlanGuard(saved, spec.vxlanGuard) : "");
      if (payload === "") continue;
      await ipt.restore(payload);
      wrote = true;
    }
    return wrote;
  }

  async inSync(spec: FirewallSpec): Promise<boolean> {
    for (const family of [4, 6] as const) {
      if (cidrOf(spec, family) === undefined) continue;
      const saved = await this.#ipt[family].save();
      if (!inspectIptables(saved, spec, family).inSync) return false;
      if (family === 4 && renderVxlanGuard(saved, spec.vxlanGuard) !== "") return false;
    }
    return true;
  }

  async remove(): Promise<boolean> {
    let removed = false;
    const errors: Error[] = [];
    for (const family of [4, 6] as const) {
      try {
        const ipt = this.#ipt[family];
        const saved = await ipt.save();
        const payload = renderIptablesRemoval(saved) +
          (family === 4 ? renderVxlanGuard(saved, undefined) : "");
        if (payload === "") continue;
        await ipt.restore(payload);
        removed = true;
      } catch (e) {
        errors.push(e as Error);
      }
    }
    if (errors.length > 0 && !removed) throw errors[0];
    return removed;
  }
}

/** Native nftables: one `inet hostgate` table replaced atomically. */
export class NftDriver implements FirewallDriver {
  readonly name = "nftables";
  readonly #nft: Nft;

  constructor(nft: Nft) {
    this.#nft = nft;
  }

  async sync(spec: FirewallSpec): Promise<boolean> {
    if (await this.inSync(spec)) return false;
    await this.#nft.apply(renderNft(spec));
    return true;
  }

  async inSync(spec: FirewallSpec): Promise<boolean> {
    return nftInSync(await this.#nft.listTable(NFT_TABLE.family, NFT_TABLE.name), spec);
  }

  async remove(): Promise<boolean> {
    if (!nftHasAgentChains(await this.#nft.listTable(NFT_TABLE.family, NFT_TABLE.name))) {
      return false;
    }
    await this.#nft.apply(renderNftRemoval());
    return true;
  }
}

/** `--firewall-backend=none`: the operator manages rules. */
export class NoFirewall implements FirewallDriver {
  readonly name = "none";
  sync(): Promise<boolean> {
    return Promise.resolve(false);
  }
  inSync(): Promise<boolean> {
    return Promise.resolve(true);
  }
  remove(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

/** Builds the driver of a backend name; "auto" detects the iptables flavour. */
export async function createFirewallDriver(
  backend: FirewallBackendName,
  exec: Exec,
): Promise<FirewallDriver> {
  if (backend === "none") return new NoFirewall();
  if (backend === "nftables") return new NftDriver(new ExecNft({ exec }));
  const mode: IptablesMode = backend === "iptables-legacy"
    ? "legacy"
    : backend === "iptables-nft"
    ? "nft"
    : await detectIptablesMode(exec);
  return new IptablesDriver({
    v4: new ExecIptables({ exec, family: 4, mode }),
    v6: new ExecIptables({ exec, family: 6, mode }),
  });
}
