/**
 * Input a connection's line reader (line_reader.ts) holds while the
 * connection waits (a hello or a password check waiting its turn, replies
 * waiting to be read): the lines that came with the read that began the
 * wait, handled in order once it is over.
 *
 * Consecutive byte lines are packed into one buffer, newline-separated,
 * instead of one copy each: a client that sends 3,000 `/who` in one write
 * held 3,000 small arrays, each several times its bytes in memory, and 160
 * such clients grew the server by a hundred megabytes.
 *
 * @module
 */

/** One held line: its raw bytes, or a line a telnet editor already decoded. */
export type HeldLine =
  | { bytes: Uint8Array; unframed: boolean }
  | { line: string; unframed: boolean };

/** Byte lines packed one after another, each ended by a newline. */
interface PackedLines {
  buffer: Uint8Array;
  /** Bytes of `buffer` in use. */
  length: number;
  /** Where the next line to hand out begins. */
  offset: number;
  unframed: boolean;
}

const NEWLINE = 0x0a;
const FIRST_PACK_BYTES = 1024;

/** Held lines, first in first out. */
export class HeldInput {
  #entries: (PackedLines | { line: string; unframed: boolean })[] = [];
  #head = 0;

  /** True when nothing is held. */
  get empty(): boolean {
    return this.#head >= this.#entries.length;
  }

  /**
   * Holds a line's bytes (copied: the read buffer is reused). A line never
   * holds a newline: it was split at one, or is an unframed peer's send,
   * which ends before one.
   */
  holdBytes(bytes: Uint8Array, unframed: boolean): void {
    const last = this.#entries[this.#entries.length - 1];
    let pack = last && "buffer" in last && last.unframed === unframed
      ? last
      : undefined;
    if (!pack) {
      pack = {
        buffer: new Uint8Array(Math.max(FIRST_PACK_BYTES, bytes.length + 1)),
        length: 0,
        offset: 0,
        unframed,
      };
      this.#entries.push(pack);
    }
    const needed = pack.length + bytes.length + 1;
    if (needed > pack.buffer.length) {
      const grown = new Uint8Array(Math.max(needed, pack.buffer.length * 2));
      grown.set(pack.buffer.subarray(0, pack.length));
      pack.buffer = grown;
    }
    pack.buffer.set(bytes, pack.length);
    pack.buffer[pack.length + bytes.length] = NEWLINE;
    pack.length = needed;
  }

  /** Holds a decoded line. */
  holdLine(line: string, unframed: boolean): void {
    this.#entries.push({ line, unframed });
  }

  /**
   * The oldest held line, now no longer held, or `undefined`. Bytes are a
   * view into the pack, whose bytes are never written over.
   */
  next(): HeldLine | undefined {
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head];
      if (!("buffer" in entry)) {
        this.#advance();
        return entry;
      }
      if (entry.offset < entry.length) {
        const end = entry.buffer.indexOf(NEWLINE, entry.offset);
        const bytes = entry.buffer.subarray(entry.offset, end);
        entry.offset = end + 1;
        if (entry.offset >= entry.length) this.#advance();
        return { bytes, unframed: entry.unframed };
      }
      this.#advance();
    }
    return undefined;
  }

  /** Forgets everything held. */
  clear(): void {
    this.#entries = [];
    this.#head = 0;
  }

  #advance(): void {
    this.#head++;
    if (this.#head >= this.#entries.length) this.clear();
  }
}
