/**
 * JSON decoding that keeps only the selected parts. A kubelet Node is ~10 KB
 * of JSON of which the agent reads ~200 bytes; `JSON.parse` would build the
 * whole tree (managedFields, 30 images with digests, conditions) only for it
 * to be dropped, and at 20,000 Nodes that garbage is what sets the peak
 * memory. Here the bytes are scanned once: unselected values are skipped
 * without being decoded (strings jumped over with a native indexOf), and only
 * selected subtrees are decoded and parsed. Invalid JSON in a skipped part is
 * not always detected; in a selected part it throws like `JSON.parse`.
 * @module
 */

/**
 * What to keep of a JSON value: `true` keeps the whole value; an object keeps
 * only the named keys, each by its own selector. An array is kept element by
 * element with the same selector.
 */
export type Selector = true | { readonly [key: string]: Selector };

/** A selector keeping everything either keeps. */
export function mergeSelectors(a: Selector, b: Selector): Selector {
  if (a === true || b === true) return true;
  const out: { [key: string]: Selector } = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = Object.hasOwn(out, k) ? mergeSelectors(out[k]!, v) : v;
  }
  return out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const decoder = new TextDecoder();

function syntax(at: number, what: string): SyntaxError {
  return new SyntaxError(`Cannot decode JSON: ${what} at byte ${at}`);
}

class Scanner {
  readonly b: Uint8Array;
  i = 0;

  constructor(b: Uint8Array) {
    this.b = b;
  }

  ws(): void {
    const b = this.b;
    let c = b[this.i];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++this.i];
  }

  /** Past the string starting at i (a quote). */
  skipString(): void {
    const b = this.b;
    let j = this.i + 1;
    for (;;) {
      const q = b.indexOf(QUOTE, j);
      if (q < 0) throw syntax(this.i, "unterminated string");
      let k = q - 1;
      while (b[k] === BACKSLASH) k--;
      if ((q - 1 - k) % 2 === 0) {
        this.i = q + 1;
        return;
      }
      j = q + 1;
    }
  }

  /** Past the value starting at i. */
  skipValue(): void {
    const b = this.b;
    const c = b[this.i];
    if (c === QUOTE) return this.skipString();
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      for (;;) {
        const d = b[this.i];
        if (d === undefined) throw syntax(this.i, "unterminated value");
        if (d === QUOTE) {
          this.skipString();
          continue;
        }
        this.i++;
        if (d === 0x7b || d === 0x5b) depth++;
        else if ((d === 0x7d || d === 0x5d) && --depth === 0) return;
      }
    }
    // A scalar: up to the next delimiter.
    while (this.i < b.length) {
      const d = b[this.i]!;
      if (d === 0x2c || d === 0x7d || d === 0x5d || d <= 0x20) return;
      this.i++;
    }
  }

  /** The whole value at i, parsed. */
  parseValue(): unknown {
    const start = this.i;
    this.skipValue();
    return JSON.parse(decoder.decode(this.b.subarray(start, this.i)));
  }

  key(): string {
    const start = this.i;
    this.skipString();
    const raw = this.b.subarray(start + 1, this.i - 1);
    if (raw.length <= 64 && !raw.includes(BACKSLASH)) {
      let ascii = true;
      for (let k = 0; k < raw.length; k++) if (raw[k]! >= 0x80) ascii = false;
      if (ascii) return String.fromCharCode(...raw);
    }
    return JSON.parse(decoder.decode(this.b.subarray(start, this.i)));
  }

  expect(c: number, what: string): void {
    this.ws();
    if (this.b[this.i] !== c) throw syntax(this.i, `expected ${what}`);
    this.i++;
  }

  value(sel: Selector): unknown {
    this.ws();
    if (sel === true) return this.parseValue();
    const c = this.b[this.i];
    if (c === 0x7b) return this.object(sel);
    if (c === 0x5b) return this.array(sel);
    return this.parseValue();
  }

  object(sel: { readonly [key: string]: Selector }): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.b[this.i] === 0x7d) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.b[this.i] !== QUOTE) throw syntax(this.i, "expected a key");
      const key = this.key();
      this.expect(0x3a, "':'");
      this.ws();
      if (Object.hasOwn(sel, key)) out[key] = this.value(sel[key]!);
      else this.skipValue();
      this.ws();
      const d = this.b[this.i++];
      if (d === 0x7d) return out;
      if (d !== 0x2c) throw syntax(this.i - 1, "expected ',' or '}'");
    }
  }

  array(sel: Selector): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.b[this.i] === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(sel));
      this.ws();
      const d = this.b[this.i++];
      if (d === 0x5d) return out;
      if (d !== 0x2c) throw syntax(this.i - 1, "expected ',' or ']'");
    }
  }
}

/** Decodes the JSON text in `bytes`, keeping only what `sel` selects. */
export function decodePruned(bytes: Uint8Array, sel: Selector): unknown {
  if (sel === true) return JSON.parse(decoder.decode(bytes));
  const s = new Scanner(bytes);
  const v = s.value(sel);
  s.ws();
  if (s.i < bytes.length) throw syntax(s.i, "trailing data");
  return v;
}
