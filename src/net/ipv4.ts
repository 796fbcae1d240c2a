/**
 * IPv4 text, the hot path: the agent reads tens of thousands of dotted quads
 * per pass (node addresses, pod subnets), so parsing is a char loop (no
 * split, no regex) and formatting is shifts. Strict: four decimal octets
 * 0-255, no leading zeros (so no octal "010"), no sign, no whitespace.
 * @module
 */

/** Character codes the char-loop parsers compare against. */
export const CHAR_DOT = 46;
export const CHAR_0 = 48;
export const CHAR_9 = 57;
/** Values of one IPv4 octet (0-255), and the octets of an address. */
const OCTET_VALUES = 256;
const IPV4_OCTETS = 4;
/** Most decimal digits of an IPv4 octet. */
const MAX_OCTET_DIGITS = 3;

/**
 * The value of the canonical dotted quad `text.slice(from, to)` ("10.0.0.1":
 * four decimal octets, no leading zeros, nothing else), or -1.
 */
export function fastV4(text: string, from = 0, to = text.length): number {
  let octets = 0, digits = 0, octet = 0, value = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : CHAR_DOT; // the end acts as a final "."
    if (c === CHAR_DOT) {
      if (digits === 0 || octets === IPV4_OCTETS) return -1;
      value = value * OCTET_VALUES + octet;
      octets++;
      digits = 0;
      octet = 0;
    } else if (c >= CHAR_0 && c <= CHAR_9) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - CHAR_0);
      if (++digits > MAX_OCTET_DIGITS || octet >= OCTET_VALUES) return -1;
    } else {
      return -1;
    }
  }
  return octets === IPV4_OCTETS ? value : -1;
}

/** Text of an IPv4 value (a 32-bit unsigned number). */
export function formatV4(n: number): string {
  const o = OCTET_VALUES - 1;
  return `${n >>> 24}.${(n >>> 16) & o}.${(n >>> 8) & o}.${n & o}`;
}
