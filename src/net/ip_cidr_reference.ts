/**
 * Test-only: the address parsers as they were while src/net validated with
 * ip-cidr (its code at 91518bc, memo left out), kept so ip_parity_test.ts can
 * prove the project's own parsers accept and reject exactly the same texts
 * with the same values. Never imported by the plugin or the agent (the
 * bundle tests check no ip-cidr code is in a bundle).
 * @module
 */
import IPCIDR from "ip-cidr";
import { fastV4, formatV6Groups, type ParsedIp } from "./address.ts";
import type { Cidr } from "./cidr.ts";

type LibAddress = IPCIDR.Address & {
  correctForm(): string;
  parsedAddress: string[];
  v4: boolean;
  zone?: string;
  parsedSubnet: string;
};

function address6(text: string): LibAddress {
  const cls = IPCIDR.createAddress("::").constructor as unknown as new (t: string) => LibAddress;
  return new cls(text);
}

function libParse(text: string): LibAddress | undefined {
  if (typeof text !== "string" || text === "") return undefined;
  try {
    const a = (text.includes(":") ? address6(text) : IPCIDR.createAddress(text)) as LibAddress;
    if (a.zone) return undefined;
    return a;
  } catch {
    return undefined;
  }
}

function libValue(a: LibAddress): bigint {
  const g = a.parsedAddress;
  if (g.length === 4) {
    return BigInt(
      ((parseInt(g[0]!, 10) * 256 + parseInt(g[1]!, 10)) * 256 + parseInt(g[2]!, 10)) * 256 +
        parseInt(g[3]!, 10),
    );
  }
  let hex = "0x";
  for (const group of g) hex += group.padStart(4, "0");
  return BigInt(hex);
}

const libFamily = (a: LibAddress): 4 | 6 => a.parsedAddress.length === 4 ? 4 : 6;

/** The old `tryParseIp`. */
export function refTryParseIp(text: string): ParsedIp | undefined {
  if (typeof text !== "string") return undefined;
  const v4 = fastV4(text);
  if (v4 >= 0) return { family: 4, value: BigInt(v4), text };
  if (text.includes("/")) return undefined;
  const a = libParse(text);
  return a ? { family: libFamily(a), value: libValue(a), text: a.correctForm() } : undefined;
}

function prefixOf(text: string, slash: number): number {
  const len = text.length - slash - 1;
  if (len < 1 || len > 3 || (len > 1 && text.charCodeAt(slash + 1) === 48)) return -1;
  let prefix = 0;
  for (let i = slash + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    prefix = prefix * 10 + (c - 48);
  }
  return prefix;
}

/** The old `tryParseCidr`, reduced to what decides the result: family, value, prefix, text. */
export function refTryParseCidr(
  text: string,
): Pick<Cidr, "family" | "prefix" | "address"> & { value: bigint } | undefined {
  if (typeof text !== "string") return undefined;
  const slash = text.indexOf("/");
  if (slash <= 0) return undefined;
  const prefix = prefixOf(text, slash);
  if (prefix < 0) return undefined;
  const v4 = fastV4(text, 0, slash);
  if (v4 >= 0) {
    return prefix > 32
      ? undefined
      : { family: 4, prefix, address: text.slice(0, slash), value: BigInt(v4) };
  }
  const lib = libParse(text);
  if (!lib) return undefined;
  const family = libFamily(lib);
  const p = Number(text.slice(text.indexOf("/") + 1));
  if (p > (family === 4 ? 32 : 128) || (family === 6 && lib.v4)) return undefined;
  return { family, prefix: p, address: lib.correctForm(), value: libValue(lib) };
}

/** The old `addressOf`: the canonical address, or undefined where it threw. */
export function refAddressOf(text: string): string | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return refTryParseIp(text)?.text;
  const a = libParse(text);
  if (!a || a.parsedSubnet === "") return undefined;
  return refTryParseIp(text.slice(0, slash))?.text;
}

/** ip-cidr's own RFC 5952 text of an IPv6 value (its `correctForm`), for the formatter. */
export function refFormatV6(value: bigint): string {
  const hex = value.toString(16).padStart(32, "0");
  const groups = Array.from({ length: 8 }, (_, i) => hex.slice(i * 4, i * 4 + 4));
  return address6(groups.join(":")).correctForm();
}

/** Our formatter on the same groups, for symmetry in the test. */
export function ownFormatV6(value: bigint): string {
  const groups = Array.from(
    { length: 8 },
    (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  return formatV6Groups(groups);
}
