/**
 * The agent's FORWARD and MASQUERADE rules: rendered as pure payloads
 * (iptables-restore text or one nft script, with golden tests) and kept in
 * sync by a driver per backend (iptables-legacy, iptables-nft, nftables, none).
 *
 * Owns: the HOSTGATE-* iptables chains, the jumps into them, and the
 * `hostgate` nft table. Must not: touch any other chain, table or rule, nor
 * decide the cluster CIDRs (they come in the `FirewallSpec`).
 * @module
 */
export {
  chainRules,
  type ChainState,
  cidrOf,
  FILTER_CHAIN,
  type FirewallSpec,
  inspectIptables,
  type IptablesState,
  NAT_CHAIN,
  NFT_TABLE,
  nftChainRules,
  nftHasAgentChains,
  nftInSync,
  renderIptablesRemoval,
  renderIptablesRestore,
  renderNft,
  renderNftRemoval,
} from "./firewall.ts";
export {
  createFirewallDriver,
  type FirewallDriver,
  IptablesDriver,
  NftDriver,
  NoFirewall,
} from "./firewall_sync.ts";
export {
  type FirewallWatchOptions,
  LEGACY_POLL_MS,
  type LegacyTables,
  nftEventWantsPass,
  watchFirewall,
} from "./firewall_watch.ts";
export { guardRules, renderVxlanGuard, VXLAN_CHAIN, type VxlanGuard } from "./vxlan_guard.ts";
