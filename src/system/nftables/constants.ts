/**
 * Numbers of the nfnetlink / nf_tables ABI (linux/netfilter/nfnetlink.h,
 * nf_tables.h) and of libnftnl's element userdata, named once so the codec
 * reads like the headers it mirrors.
 * @module
 */

/** The netlink protocol of nfnetlink sockets. */
export const NETLINK_NETFILTER = 12;

/** nfnetlink subsystem of nf_tables; message type = subsystem << 8 | NFT_MSG_*. */
export const NFNL_SUBSYS_NFTABLES = 10;
/** Batch delimiters (NLMSG_MIN_TYPE and NLMSG_MIN_TYPE + 1). */
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;
/** struct nfgenmsg: u8 family, u8 version, be16 res_id. */
export const NFGENMSG_LEN = 4;
export const NFNETLINK_V0 = 0;

/** nf_tables message types. */
export const NFT_MSG_NEWSETELEM = 12;
export const NFT_MSG_GETSETELEM = 13;
export const NFT_MSG_DELSETELEM = 14;

/** NFTA_SET_ELEM_LIST_* attributes. */
export const NFTA_SET_ELEM_LIST_TABLE = 1;
export const NFTA_SET_ELEM_LIST_SET = 2;
export const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
/** One element inside NFTA_SET_ELEM_LIST_ELEMENTS. */
export const NFTA_LIST_ELEM = 1;

/** NFTA_SET_ELEM_* attributes. */
export const NFTA_SET_ELEM_KEY = 1;
export const NFTA_SET_ELEM_DATA = 2;
export const NFTA_SET_ELEM_FLAGS = 3;
export const NFTA_SET_ELEM_USERDATA = 6;
/** NFTA_DATA_* inside a key or data nest. */
export const NFTA_DATA_VALUE = 1;
export const NFTA_DATA_VERDICT = 2;

/** libnftnl element userdata TLV (u8 type, u8 len, value): the `comment "..."`. */
export const NFTNL_UDATA_SET_ELEM_COMMENT = 0;
/** Longest comment nft accepts (NFT_USERDATA_MAXLEN is 256 for the whole TLV area). */
export const MAX_COMMENT = 128;

/** NFPROTO_* families, by the names nft uses. */
export const FAMILIES = {
  inet: 1,
  ip: 2,
  arp: 3,
  netdev: 5,
  bridge: 7,
  ip6: 10,
} as const;
