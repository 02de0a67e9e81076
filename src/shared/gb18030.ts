/**
 * Writing text for a Chinese console: GB18030, which carries every Unicode
 * character, or GBK, its two-byte part, which is all a Windows console of
 * code page 936 shows. Reading needs nothing of ours (the runtime's
 * `TextDecoder("gb18030")` reads all of GB18030); writing needs a table,
 * since `TextEncoder` only writes UTF-8.
 *
 * The tables are not shipped: they are built once, on first use, by
 * decoding every code with the runtime's decoder and inverting the result —
 * the 23,940 two-byte codes (lead 0x81–0xFE, trail 0x40–0xFE but 0x7F) and
 * the 39,420 four-byte codes of the rest of the BMP (0x81308130 to
 * 0x8431A439) — into two `Uint16Array`s indexed by BMP code point (256 KiB,
 * ~30 ms). So they match the decoder exactly, and only a server that meets a
 * GB18030 connection pays for them. Code points above the BMP need no table:
 * GB18030 numbers them in order from 0x90308130 (the WHATWG Encoding
 * Standard's "index gb18030 ranges pointer" arithmetic).
 *
 * In GB18030 only a lone surrogate (no character at all) becomes `?`, and
 * the 20 private-use code points whose codes GB18030-2022 gave to standard
 * characters (U+E5E5, U+E78D–U+E796 …: the decoder yields them from no
 * code, so no code reads back as them). In
 * GBK, a character it lacks (emoji, rare ideographs) is written as one `?`
 * per character as the user sees it (a grapheme cluster): its four-byte
 * code would show as four cells of garbage on a code page 936 console.
 *
 * @module
 */

import { graphemes } from "./text_width.ts";

/** Code point → two-byte code (lead << 8 | trail), 0 for none. */
let twoByte: Uint16Array | undefined;
/** BMP code point → its four-byte pointer + 1, 0 for none. */
let fourByte: Uint16Array | undefined;

/** How many four-byte pointers the BMP uses (0 to 39,419). */
const BMP_POINTERS = 39420;
/** The four-byte pointer of U+10000. */
const SUPPLEMENTARY_BASE = 189000;
const QUESTION_MARK = 0x3f;

/** The four bytes of four-byte `pointer`, written at `out[at]`. */
function writePointer(pointer: number, out: Uint8Array, at: number): void {
  out[at] = Math.floor(pointer / 12600) + 0x81;
  out[at + 1] = Math.floor(pointer % 12600 / 1260) + 0x30;
  out[at + 2] = Math.floor(pointer % 1260 / 10) + 0x81;
  out[at + 3] = pointer % 10 + 0x30;
}

function twoByteTable(): Uint16Array {
  if (twoByte) return twoByte;
  const codes: number[] = [];
  const pairs: number[] = [];
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      pairs.push(lead, trail);
      codes.push(lead << 8 | trail);
    }
  }
  const decoded = new TextDecoder("gb18030").decode(new Uint8Array(pairs));
  const built = new Uint16Array(0x10000);
  let index = 0;
  for (const character of decoded) {
    const codePoint = character.codePointAt(0)!;
    // Every two-byte code decodes to one BMP character; where two codes
    // give the same one, the first is the one GB18030 encoders write.
    if (codePoint < 0x10000 && codePoint >= 0x80 && built[codePoint] === 0) {
      built[codePoint] = codes[index];
    }
    index++;
  }
  twoByte = built;
  return built;
}

function fourByteTable(): Uint16Array {
  if (fourByte) return fourByte;
  const two = twoByteTable();
  const bytes = new Uint8Array(BMP_POINTERS * 4);
  for (let pointer = 0; pointer < BMP_POINTERS; pointer++) {
    writePointer(pointer, bytes, pointer * 4);
  }
  const decoded = new TextDecoder("gb18030").decode(bytes);
  const built = new Uint16Array(0x10000);
  let pointer = 0;
  for (const character of decoded) {
    const codePoint = character.codePointAt(0)!;
    // A character with a two-byte code is written with that one.
    if (
      codePoint >= 0x80 && codePoint < 0x10000 && codePoint !== 0xfffd &&
      two[codePoint] === 0 && built[codePoint] === 0
    ) {
      built[codePoint] = pointer + 1;
    }
    pointer++;
  }
  fourByte = built;
  return built;
}

/** True when `text` can be written in GBK without a `?`. */
export function fitsGbk(text: string): boolean {
  const codes = twoByteTable();
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x80 && codes[unit] === 0) return false;
  }
  return true;
}

/**
 * Encodes text as GB18030: ASCII as it is, Chinese (and everything else GBK
 * has) in two bytes, every other character in four; a lone surrogate as `?`.
 *
 * @example
 * ```ts
 * encodeGb18030("你好"); // → Uint8Array [0xc4, 0xe3, 0xba, 0xc3]
 * encodeGb18030("😀"); // → Uint8Array [0x94, 0x39, 0xfc, 0x36]
 * ```
 */
export function encodeGb18030(text: string): Uint8Array {
  const two = twoByteTable();
  // A UTF-16 unit becomes at most four bytes.
  const out = new Uint8Array(text.length * 4);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      out[length++] = unit;
      continue;
    }
    const code = two[unit];
    if (code !== 0) {
      out[length++] = code >> 8;
      out[length++] = code & 0xff;
      continue;
    }
    const codePoint = text.codePointAt(i)!;
    if (codePoint >= 0x10000) {
      writePointer(SUPPLEMENTARY_BASE + codePoint - 0x10000, out, length);
      length += 4;
      i++;
      continue;
    }
    const pointer = fourByteTable()[codePoint];
    if (pointer === 0) {
      // A lone surrogate, or a code point the runtime's decoder has no
      // code for: no character to write.
      out[length++] = QUESTION_MARK;
      continue;
    }
    writePointer(pointer - 1, out, length);
    length += 4;
  }
  return out.subarray(0, length);
}

/**
 * Encodes text as GBK bytes: ASCII as it is, Chinese (and everything else
 * GBK has) in two bytes, anything else as `?`.
 *
 * @example
 * ```ts
 * encodeGbk("你好 a"); // → Uint8Array [0xc4, 0xe3, 0xba, 0xc3, 0x20, 0x61]
 * encodeGbk("👋🏽!"); // → "?!" as bytes
 * ```
 */
export function encodeGbk(text: string): Uint8Array {
  const codes = twoByteTable();
  // A UTF-16 unit becomes at most two bytes (a surrogate pair at most one).
  const out = new Uint8Array(text.length * 2);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      out[length++] = unit;
      continue;
    }
    const code = codes[unit];
    // Surrogates are never in the table, so an emoji takes this path too.
    if (code === 0) return encodeByCharacter(text);
    out[length++] = code >> 8;
    out[length++] = code & 0xff;
  }
  return out.subarray(0, length);
}

/**
 * The slow path, for text with a character GBK lacks: one `?` for each
 * character as the user sees it, so 👋🏽 or é (e + accent) is one `?`.
 */
function encodeByCharacter(text: string): Uint8Array {
  const codes = twoByteTable();
  const out = new Uint8Array(text.length * 2);
  let length = 0;
  for (const cell of graphemes(text)) {
    if (!fitsGbk(cell)) {
      out[length++] = QUESTION_MARK;
      continue;
    }
    for (let i = 0; i < cell.length; i++) {
      const unit = cell.charCodeAt(i);
      if (unit < 0x80) {
        out[length++] = unit;
      } else {
        out[length++] = codes[unit] >> 8;
        out[length++] = codes[unit] & 0xff;
      }
    }
  }
  return out.subarray(0, length);
}
