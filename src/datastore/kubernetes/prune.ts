/**
 * JSON decoding that keeps only the selected parts. A kubelet Node is ~10 KB
 * of JSON of which the agent reads ~200 bytes; `JSON.parse` would build the
 * whole tree (managedFields, 30 images with digests, conditions) only for it
 * to be dropped, and at 20,000 Nodes that garbage is what sets the peak
 * memory. Here the bytes are scanned once: unselected values are skipped
 * without being decoded (strings jumped over with a native indexOf), keys are
 * matched as bytes against the selector (no string built for a key nobody
 * reads), and only selected values are decoded, each up to a size cap.
 *
 * Checks: a selected value is parsed by `JSON.parse` (same result, same
 * errors); a skipped one is checked for terminated strings, matching
 * brackets, a nesting cap and a valid first byte, not for every rule of the
 * grammar. Truncated input is an error, never a partial value. The scanner
 * can also run on a prefix of a stream (see list_page.ts): reaching the end
 * of what has arrived throws `NeedMore` instead of an error.
 * @module
 */

/**
 * What to keep of a JSON value: `true` keeps the whole value; an object keeps
 * only the named keys, each by its own selector. An array is kept element by
 * element with the same selector.
 */
export type Selector = true | { readonly [key: string]: Selector };

/** A selector with its keys as UTF-8 bytes, matched against raw key bytes. */
export type CompiledSelector = true | { readonly keys: readonly CompiledKey[] };

/** One key of a compiled selector. */
export interface CompiledKey {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly sel: CompiledSelector;
}

/** A selector keeping everything either keeps. */
export function mergeSelectors(a: Selector, b: Selector): Selector {
  if (a === true || b === true) return true;
  const out: { [key: string]: Selector } = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = Object.hasOwn(out, k) ? mergeSelectors(out[k]!, v) : v;
  }
  return out;
}

/** Compiles a selector once, so decoding matches keys without building strings. */
export function compileSelector(sel: Selector): CompiledSelector {
  if (sel === true) return true;
  const enc = new TextEncoder();
  return {
    keys: Object.entries(sel).map(([name, s]) => ({
      name,
      bytes: enc.encode(name),
      sel: compileSelector(s),
    })),
  };
}

/** Thrown when the scanner reaches the end of a prefix that is not final: feed more bytes. */
export class NeedMore extends Error {
  constructor() {
    super("Cannot decode JSON: more input needed");
    this.name = "NeedMore";
  }
}

/**
 * The one NeedMore thrown (frozen): it is thrown once per chunk read, and
 * a new Error would capture a stack trace each time.
 */
const NEED_MORE = Object.freeze(new NeedMore());

/** Decoding limits. */
export interface PruneLimits {
  /** A selected value longer than this (bytes of JSON) is left out, as if absent. */
  maxValueBytes: number;
  /** Deepest nesting accepted anywhere (default 256). */
  maxDepth: number;
}

/**
 * Largest object accepted (etcd refuses requests over 1.5 MiB, so no real
 * API object comes near it): the default value cap, and the most a stream
 * decoder buffers for one value.
 */
export const MAX_OBJECT_BYTES = 4 << 20;

/** Default limits: any value up to an object's cap. */
export const DEFAULT_LIMITS: PruneLimits = { maxValueBytes: MAX_OBJECT_BYTES, maxDepth: 256 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
/** What a value too big to keep decodes to: its key is left out. */
export const OVERSIZE = Symbol("oversize");

function syntax(at: number, what: string): SyntaxError {
  return new SyntaxError(`Cannot decode JSON: ${what} at byte ${at}`);
}

/** True for a byte that may start a JSON number or literal. */
function scalarStart(c: number): boolean {
  return c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e;
}

/**
 * A cursor over JSON bytes. `final` false: the bytes are a prefix of a
 * longer stream and running off the end throws `NeedMore` (the caller
 * retries the same value from its start once more bytes have arrived).
 */
export class Scanner {
  readonly b: Uint8Array;
  readonly final: boolean;
  readonly limits: PruneLimits;
  readonly #decoder: TextDecoder;
  i = 0;

  constructor(
    b: Uint8Array,
    opts: { final: boolean; limits?: PruneLimits; decoder?: TextDecoder },
  ) {
    this.b = b;
    this.final = opts.final;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.#decoder = opts.decoder ?? new TextDecoder();
  }

  /** Past whitespace; returns the next byte (throws at the end). */
  peek(): number {
    const b = this.b;
    let c = b[this.i];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++this.i];
    if (c === undefined) throw this.#end("unexpected end of input");
    return c;
  }

  /** True when only whitespace is left. */
  atEnd(): boolean {
    const b = this.b;
    let c = b[this.i];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++this.i];
    return c === undefined;
  }

  #end(what: string): Error {
    return this.final ? syntax(this.i, what) : NEED_MORE;
  }

  /** Consumes `c` (after whitespace) or throws. */
  expect(c: number, what: string): void {
    if (this.peek() !== c) throw syntax(this.i, `expected ${what}`);
    this.i++;
  }

  /** Past the string starting at i (a quote). */
  skipString(): void {
    const b = this.b;
    let j = this.i + 1;
    for (;;) {
      const q = b.indexOf(QUOTE, j);
      if (q < 0) throw this.#end("unterminated string");
      let k = q - 1;
      while (b[k] === BACKSLASH) k--;
      if ((q - 1 - k) % 2 === 0) {
        this.i = q + 1;
        return;
      }
      j = q + 1;
    }
  }

  /** Past the value starting at i (after whitespace). */
  skipValue(): void {
    const b = this.b;
    const c = this.peek();
    if (c === QUOTE) return this.skipString();
    if (c === OPEN_OBJ || c === OPEN_ARR) return this.#skipContainer();
    if (!scalarStart(c)) throw syntax(this.i, "unexpected byte");
    // A number or literal: up to the next delimiter (at the end of a prefix, it may go on).
    for (;;) {
      const d = b[this.i];
      if (d === undefined) {
        if (this.final) return;
        throw NEED_MORE;
      }
      if (d === COMMA || d === CLOSE_OBJ || d === CLOSE_ARR || d <= 0x20) return;
      this.i++;
    }
  }

  #skipContainer(): void {
    const b = this.b;
    // Open brackets, one bit each (1: object), up to the nesting cap.
    const open: number[] = [];
    for (;;) {
      const d = b[this.i];
      if (d === undefined) throw this.#end("unterminated value");
      if (d === QUOTE) {
        this.skipString();
        continue;
      }
      this.i++;
      if (d === OPEN_OBJ || d === OPEN_ARR) {
        if (open.length >= this.limits.maxDepth) throw syntax(this.i - 1, "nested too deep");
        open.push(d);
      } else if (d === CLOSE_OBJ || d === CLOSE_ARR) {
        if (open.pop() !== (d === CLOSE_OBJ ? OPEN_OBJ : OPEN_ARR)) {
          throw syntax(this.i - 1, "mismatched bracket");
        }
        if (open.length === 0) return;
      }
    }
  }

  /** The whole value at i, parsed; OVERSIZE when longer than the cap. */
  parseValue(): unknown {
    this.peek();
    const start = this.i;
    this.skipValue();
    const len = this.i - start;
    if (len > this.limits.maxValueBytes) return OVERSIZE;
    const b = this.b;
    if (b[start] === QUOTE) {
      // A plain string (no escape, no control byte) needs no JSON.parse.
      let plain = true;
      for (let k = start + 1; k < this.i - 1; k++) {
        const c = b[k]!;
        if (c === BACKSLASH || c < 0x20) {
          plain = false;
          break;
        }
      }
      if (plain) return this.#decoder.decode(b.subarray(start + 1, this.i - 1));
    }
    return JSON.parse(this.#decoder.decode(b.subarray(start, this.i)));
  }

  /** The key at i (a quote) as the selector's entry, or undefined when not selected. */
  key(sel: { readonly keys: readonly CompiledKey[] }): CompiledKey | undefined {
    const b = this.b;
    const start = this.i + 1;
    this.skipString();
    const end = this.i - 1;
    if (b.subarray(start, end).includes(BACKSLASH)) {
      const name = JSON.parse(this.#decoder.decode(b.subarray(start - 1, end + 1)));
      return sel.keys.find((k) => k.name === name);
    }
    const len = end - start;
    outer: for (const k of sel.keys) {
      if (k.bytes.length !== len) continue;
      for (let x = 0; x < len; x++) if (k.bytes[x] !== b[start + x]) continue outer;
      return k;
    }
    return undefined;
  }

  /** The value at i, keeping what `sel` selects (OVERSIZE when a kept whole is too big). */
  value(sel: CompiledSelector, depth = 0): unknown {
    if (sel === true) return this.parseValue();
    if (depth >= this.limits.maxDepth) throw syntax(this.i, "nested too deep");
    const c = this.peek();
    if (c === OPEN_OBJ) return this.object(sel, depth + 1);
    if (c === OPEN_ARR) return this.array(sel, depth + 1);
    return this.parseValue();
  }

  object(sel: { readonly keys: readonly CompiledKey[] }, depth = 0): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    if (this.peek() === CLOSE_OBJ) {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.peek() !== QUOTE) throw syntax(this.i, "expected a key");
      const k = this.key(sel);
      this.expect(COLON, "':'");
      if (k) {
        const v = this.value(k.sel, depth);
        if (v !== OVERSIZE) out[k.name] = v;
      } else this.skipValue();
      const d = this.peek();
      this.i++;
      if (d === CLOSE_OBJ) return out;
      if (d !== COMMA) throw syntax(this.i - 1, "expected ',' or '}'");
    }
  }

  array(sel: CompiledSelector, depth = 0): unknown[] {
    this.i++;
    const out: unknown[] = [];
    if (this.peek() === CLOSE_ARR) {
      this.i++;
      return out;
    }
    for (;;) {
      const v = this.value(sel, depth);
      if (v !== OVERSIZE) out.push(v);
      const d = this.peek();
      this.i++;
      if (d === CLOSE_ARR) return out;
      if (d !== COMMA) throw syntax(this.i - 1, "expected ',' or ']'");
    }
  }
}

/** True for a compiled selector (a plain one never holds an array). */
function isCompiled(sel: Selector | CompiledSelector): sel is CompiledSelector {
  return sel === true || Array.isArray((sel as { keys?: unknown }).keys);
}

/**
 * Decodes the JSON text in `bytes`, keeping only what `sel` selects (a
 * selected value over `limits.maxValueBytes` is left out). Throws
 * SyntaxError on malformed or truncated input.
 */
export function decodePruned(
  bytes: Uint8Array,
  sel: Selector | CompiledSelector,
  limits: PruneLimits = DEFAULT_LIMITS,
): unknown {
  const compiled = isCompiled(sel) ? sel : compileSelector(sel as Selector);
  const s = new Scanner(bytes, { final: true, limits });
  const v = s.value(compiled);
  if (!s.atEnd()) throw syntax(s.i, "trailing data");
  return v === OVERSIZE ? undefined : v;
}
