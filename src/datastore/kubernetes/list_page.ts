/**
 * Streaming decode of one LIST response page: each item is projected as soon
 * as its last byte has arrived, so a page of 250 kubelet Nodes (~2.5 MB) is
 * never held whole, neither as bytes nor as objects. The decoder buffers only
 * what is not decoded yet (the item in flight: ~10 KB), each item through the
 * pruned scanner (prune.ts: only the selected fields are built). Malformed or
 * truncated JSON, an item beyond the object cap or a body that is no LIST
 * throws, so the page (and the relist) fails as a datastore error.
 * @module
 */

import {
  type CompiledSelector,
  compileSelector,
  DEFAULT_LIMITS,
  MAX_OBJECT_BYTES,
  NeedMore,
  OVERSIZE,
  type PruneLimits,
  Scanner,
} from "./prune.ts";

/** What a LIST page says besides its items. */
export interface ListPageMeta {
  resourceVersion: string;
  /** The continue token ("" on the last page). */
  continue: string;
}

/** Options of `ListPageDecoder`. */
export interface ListPageDecoderOptions {
  /** What to keep of each item. */
  item: CompiledSelector;
  /** Called once per item, in order, with what was kept of it. */
  onItem: (item: unknown) => void;
  limits?: PruneLimits;
  /** Most bytes buffered at once (default: the object cap plus two reads). */
  maxBufferBytes?: number;
}

type State = "start" | "firstKey" | "key" | "value" | "comma" | "firstItem" | "item" | "itemComma";

const TOP = compileSelector({ metadata: true, items: true });
const META = compileSelector({ resourceVersion: true, continue: true });
const READ_BYTES = 64 * 1024;
const QUOTE = 0x22;

const syntax = (what: string) => new SyntaxError(`Cannot decode a LIST page: ${what}`);

/** Decodes one LIST page fed as it arrives (see the module doc). */
export class ListPageDecoder {
  readonly #o: ListPageDecoderOptions;
  readonly #limits: PruneLimits;
  readonly #decoder = new TextDecoder();
  #buf = new Uint8Array(2 * READ_BYTES);
  /** Bytes in #buf. */
  #len = 0;
  /** Bytes of #buf already decoded. */
  #pos = 0;
  #state: State | "done" = "start";
  #key: string | undefined;
  readonly #meta: ListPageMeta = { resourceVersion: "", continue: "" };
  /** Items decoded so far. */
  items = 0;

  constructor(opts: ListPageDecoderOptions) {
    this.#o = opts;
    this.#limits = opts.limits ?? DEFAULT_LIMITS;
  }

  /**
   * Free space to read into (a BYOB reader's view): the decoded bytes are
   * dropped first, and the buffer grows only while one value does not fit.
   */
  space(min = READ_BYTES): Uint8Array {
    if (this.#pos > 0) {
      this.#buf.copyWithin(0, this.#pos, this.#len);
      this.#len -= this.#pos;
      this.#pos = 0;
    }
    if (this.#buf.length - this.#len < min) {
      const max = this.#o.maxBufferBytes ?? MAX_OBJECT_BYTES + 2 * READ_BYTES;
      const size = Math.max(this.#buf.length * 2, this.#len + min);
      if (size > max) throw syntax(`one value is over ${max - min} bytes`);
      const bigger = new Uint8Array(size);
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
    }
    return new Uint8Array(this.#buf.buffer, this.#len, this.#buf.length - this.#len);
  }

  /**
   * Takes the bytes read into `space()`'s view (`filled`: the view a BYOB
   * read returned, whose buffer replaces the transferred one) and decodes
   * every item now complete.
   */
  commit(filled: Uint8Array): void {
    if (filled.buffer !== this.#buf.buffer) {
      this.#buf = new Uint8Array(filled.buffer as ArrayBuffer);
    }
    this.#len = filled.byteOffset + filled.byteLength;
    this.#run(false);
  }

  /** Copies a chunk in and decodes (for a body read without BYOB). */
  push(chunk: Uint8Array): void {
    for (let off = 0; off < chunk.length;) {
      const room = this.space(Math.min(READ_BYTES, chunk.length - off));
      const n = Math.min(room.length, chunk.length - off);
      room.set(chunk.subarray(off, off + n));
      off += n;
      this.commit(room.subarray(0, n));
    }
  }

  /** The end of the body: the page's metadata, or an error when the page is incomplete. */
  finish(): ListPageMeta {
    this.#run(true);
    if (this.#state !== "done") throw syntax("truncated");
    return this.#meta;
  }

  #run(final: boolean): void {
    const s = new Scanner(this.#buf.subarray(0, this.#len), {
      final,
      limits: this.#limits,
      decoder: this.#decoder,
    });
    s.i = this.#pos;
    try {
      while (this.#state !== "done") {
        this.#state = this.#step(s, this.#state);
        this.#pos = s.i;
      }
      if (!s.atEnd()) throw syntax(`trailing data at byte ${s.i}`);
      this.#pos = s.i;
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
    }
  }

  /** One whole unit (a key, a value, an item, a delimiter) from `s`, or NeedMore. */
  #step(s: Scanner, state: State): State | "done" {
    switch (state) {
      case "start":
        if (s.peek() !== 0x7b) throw syntax("not a JSON object");
        s.i++;
        return "firstKey";
      case "firstKey":
        if (s.peek() === 0x7d) {
          s.i++;
          return "done";
        }
        return "key";
      case "key": {
        if (s.peek() !== QUOTE) throw syntax(`expected a key at byte ${s.i}`);
        const k = s.key(TOP as Exclude<CompiledSelector, true>);
        s.expect(0x3a, "':'");
        this.#key = k?.name;
        return "value";
      }
      case "value":
        if (this.#key === "items") {
          const c = s.peek();
          if (c === 0x5b) {
            s.i++;
            return "firstItem";
          }
          if (c !== 0x6e) throw syntax("items is not a list");
          s.skipValue();
        } else if (this.#key === "metadata") {
          const m = s.value(META) as { resourceVersion?: unknown; continue?: unknown } | null;
          if (typeof m?.resourceVersion === "string") {
            this.#meta.resourceVersion = m.resourceVersion;
          }
          if (typeof m?.continue === "string") this.#meta.continue = m.continue;
        } else s.skipValue();
        return "comma";
      case "comma": {
        const c = s.peek();
        s.i++;
        if (c === 0x2c) return "key";
        if (c === 0x7d) return "done";
        throw syntax(`expected ',' or '}' at byte ${s.i - 1}`);
      }
      case "firstItem":
        if (s.peek() === 0x5d) {
          s.i++;
          return "comma";
        }
        return "item";
      case "item": {
        const v = s.value(this.#o.item);
        if (v === OVERSIZE) throw syntax(`an item over ${this.#limits.maxValueBytes} bytes`);
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          throw syntax(`item ${this.items} is not an object`);
        }
        this.items++;
        this.#o.onItem(v);
        return "itemComma";
      }
      case "itemComma": {
        const c = s.peek();
        s.i++;
        if (c === 0x2c) return "item";
        if (c === 0x5d) return "comma";
        throw syntax(`expected ',' or ']' at byte ${s.i - 1}`);
      }
    }
  }
}

/**
 * Reads a LIST response body into `decoder` (a BYOB reader straight into
 * its buffer where the stream allows, else chunk by chunk) and returns the
 * page's metadata.
 */
export async function readListPage(res: Response, decoder: ListPageDecoder): Promise<ListPageMeta> {
  const body = res.body;
  if (!body) return decoder.finish();
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    for await (const chunk of body) decoder.push(chunk);
    return decoder.finish();
  }
  try {
    for (;;) {
      const { value, done } = await reader.read(decoder.space());
      if (value) decoder.commit(value);
      if (done) break;
    }
  } finally {
    reader.releaseLock();
  }
  return decoder.finish();
}
