/**
 * The character set of one text connection: UTF-8, or GB18030 for a Chinese
 * console (a Windows console of code page 936 sends GBK however the rest of
 * the world writes), or GBK: read as GB18030, written with two-byte codes
 * only, for a code page 936 console that shows GB18030's four-byte codes
 * (emoji) as garbage.
 *
 * A connection starts in UTF-8. Until its text shows which it is (a line of
 * valid non-ASCII UTF-8 settles it), a line that is not UTF-8 but is valid
 * GB18030 switches it to GB18030 for both directions; `/charset` changes it
 * by hand. JSON connections are always UTF-8. Pure (no I/O): the switch is
 * reported to a callback.
 *
 * @module
 */

import { ERROR_MESSAGES } from "../../../protocol.ts";
import { utf8SequenceLength } from "./unframed.ts";
import { encodeGb18030, encodeGbk } from "../../shared/gb18030.ts";

/** The character sets a text connection can use. */
export type CharsetName = "utf-8" | "gb18030" | "gbk";

const NAMES: Record<string, CharsetName> = {
  "utf-8": "utf-8",
  "utf8": "utf-8",
  "gb18030": "gb18030",
  "gbk": "gbk",
  "gb2312": "gbk",
  "cp936": "gbk",
  "936": "gbk",
};

/** The charset a user means by `name` (`utf8`, `GBK` …), if any. */
export function charsetByName(name: string): CharsetName | undefined {
  return NAMES[name.trim().toLowerCase()];
}

const EMPTY = new Uint8Array(0);
/** Strict UTF-8, a whole line at a time (never streaming): one for everyone. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Decodes what one connection sends and encodes what it is sent.
 *
 * @example
 * ```ts
 * const charset = new TextCharset(() => {});
 * charset.decodeLine(new Uint8Array([0xc4, 0xe3, 0xba, 0xc3]), true); // → "你好"
 * charset.name; // → "gb18030"
 * ```
 */
export class TextCharset {
  #name: CharsetName = "utf-8";
  /** Text has shown which charset it is in (or the user chose): no guessing. */
  #settled = false;
  #onSwitch: (notice: string) => void;
  #gb: TextDecoder | undefined;
  #lenient: TextDecoder | undefined;
  /** Bytes of a key not complete yet (character mode sends bytes as typed). */
  #keyTail: Uint8Array = EMPTY;

  /**
   * @param onSwitch called with the line to tell the user when their text
   * made the connection switch.
   */
  constructor(onSwitch: (notice: string) => void) {
    this.#onSwitch = onSwitch;
  }

  /** The charset in use. */
  get name(): CharsetName {
    return this.#name;
  }

  /** Uses `name` from now on (the user's `/charset`): no more guessing. */
  choose(name: CharsetName): void {
    this.#name = name;
    this.#settled = true;
    this.#keyTail = EMPTY;
  }

  /**
   * The user's `/charset ARGS`: the line that confirms it, or the usage
   * when ARGS names no charset.
   */
  command(args: string): { notice: string } | { usage: string } {
    const name = charsetByName(args);
    if (name === undefined) {
      return {
        usage: `usage: /charset utf-8|gb18030|gbk (now ${this.#name})`,
      };
    }
    this.choose(name);
    if (name === "gbk") {
      return {
        notice:
          "* This connection now uses GBK both ways: characters GBK lacks, such as emoji, show as ?.",
      };
    }
    return {
      notice: `* This connection now uses ${name.toUpperCase()} both ways.`,
    };
  }

  /**
   * Decodes one line; `undefined` when it is not valid in the charset (nor,
   * where `mayGuess` and nothing is settled, in GB18030, which it then
   * switches to).
   */
  decodeLine(bytes: Uint8Array, mayGuess: boolean): string | undefined {
    if (this.#name !== "utf-8") return this.#decodeGb(bytes);
    try {
      const text = UTF8.decode(bytes);
      // Valid UTF-8 is ASCII exactly when it decodes to one unit per byte:
      // every other character takes more bytes than UTF-16 units. No second
      // pass over every line (it was 1.5 % of the server's time in (a)).
      if (!this.#settled && text.length !== bytes.length) this.#settled = true;
      return text;
    } catch {
      if (this.#settled || !mayGuess) return undefined;
    }
    const text = this.#decodeGb(bytes);
    if (text !== undefined) this.#switchTo("gb18030");
    return text;
  }

  /**
   * What to tell a user whose line {@linkcode decodeLine} refused: which
   * charset it is not in, and `/charset` when the other one would read it
   * and the connection has `/charset` (`mayGuess`, as for decodeLine: a
   * JSON or IRC peer reads UTF-8 only).
   */
  refusal(bytes: Uint8Array, mayGuess = true): string {
    if (this.#name !== "utf-8") {
      return "that line is not valid GB18030 (/charset utf-8 changes it)";
    }
    if (!mayGuess) {
      return `${ERROR_MESSAGES.invalid_utf8}: this server reads UTF-8 only`;
    }
    if (this.#decodeGb(bytes) !== undefined) {
      return `${ERROR_MESSAGES.invalid_utf8} (if your terminal writes GBK, type /charset gb18030)`;
    }
    return ERROR_MESSAGES.invalid_utf8;
  }

  /**
   * True while {@linkcode TextCharset.decodeKeys} holds the first bytes of
   * a character and waits for the rest.
   */
  get midCharacter(): boolean {
    return this.#keyTail.length > 0;
  }

  /**
   * Decodes keys as a client in character mode sends them: whole characters
   * are returned, a character's first bytes wait for the rest. Bytes that
   * are no character become U+FFFD.
   */
  decodeKeys(bytes: Uint8Array): string {
    const all = this.#keyTail.length > 0 ? concat(this.#keyTail, bytes) : bytes;
    if (this.#name !== "utf-8") {
      const cut = gbCharactersEnd(all);
      this.#keyTail = all.slice(cut);
      return this.#lenientDecoder("gb18030").decode(all.subarray(0, cut));
    }
    const cut = utf8CharactersEnd(all);
    const whole = all.subarray(0, cut);
    try {
      const text = UTF8.decode(whole);
      if (!this.#settled && !isAscii(whole)) this.#settled = true;
      this.#keyTail = all.slice(cut);
      return text;
    } catch {
      // Not UTF-8: perhaps GB18030, unless the text already showed UTF-8.
    }
    if (!this.#settled) {
      const gbCut = gbCharactersEnd(all);
      const head = all.subarray(0, gbCut);
      const text = this.#decodeGb(head);
      if (text !== undefined && !isAscii(head)) {
        this.#keyTail = all.slice(gbCut);
        this.#switchTo("gb18030");
        return text;
      }
      if (text !== undefined && all.length - gbCut < 4) {
        // ASCII so far; what follows may be the start of a GB18030 character.
        this.#keyTail = all.slice(gbCut);
        return text;
      }
    }
    this.#keyTail = all.slice(cut);
    return this.#lenientDecoder("utf-8").decode(whole);
  }

  /** Output (UTF-8, as the hub renders it) in this charset. */
  encode(utf8: Uint8Array): Uint8Array {
    if (this.#name === "utf-8") return utf8;
    return this.encodeText(this.#lenientDecoder("utf-8").decode(utf8));
  }

  /** Text in this charset. */
  encodeText(text: string): Uint8Array {
    switch (this.#name) {
      case "utf-8":
        return encoder.encode(text);
      case "gb18030":
        return encodeGb18030(text);
      case "gbk":
        return encodeGbk(text);
    }
  }

  /** The text was GB18030 (the one charset guessed): says so, once. */
  #switchTo(name: "gb18030"): void {
    this.#name = name;
    this.#settled = true;
    // A code page 936 console shows the four-byte codes (emoji) as junk:
    // the way out is named here, where its user will read it.
    this.#onSwitch(
      "* Your text is GB18030, not UTF-8: this connection now uses GB18030 both ways (/charset gbk if emoji look garbled, /charset utf-8 changes it back).",
    );
  }

  #decodeGb(bytes: Uint8Array): string | undefined {
    this.#gb ??= new TextDecoder("gb18030", { fatal: true });
    try {
      return this.#gb.decode(bytes);
    } catch {
      return undefined;
    }
  }

  #lenientDecoder(name: "utf-8" | "gb18030"): TextDecoder {
    if (this.#lenient?.encoding !== name) this.#lenient = new TextDecoder(name);
    return this.#lenient;
  }
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * Where the last whole UTF-8 character of `bytes` ends: before the lead byte
 * of a character still missing bytes, else at the end (bytes that start no
 * character count as whole, to be refused).
 */
export function utf8CharactersEnd(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const index = bytes.length - back;
    const byte = bytes[index];
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte
    const length = utf8SequenceLength(byte);
    return length > back ? index : bytes.length;
  }
  return bytes.length;
}

/**
 * Where the last whole GB18030 character of `bytes` ends: a lead byte
 * (0x81–0xFE) takes one more byte, or three more when the second is a digit
 * (0x30–0x39); any other byte stands alone.
 */
export function gbCharactersEnd(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index];
    if (lead < 0x81 || lead > 0xfe) {
      index++;
      continue;
    }
    if (index + 1 >= bytes.length) return index;
    const second = bytes[index + 1];
    const length = second >= 0x30 && second <= 0x39 ? 4 : 2;
    if (index + length > bytes.length) return index;
    index += length;
  }
  return index;
}
