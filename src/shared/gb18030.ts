/**
 * Writing text for a Chinese Windows console: GBK, the two-byte part of
 * GB18030 that code page 936 shows. Reading needs nothing of ours (the
 * runtime's `TextDecoder("gb18030")` reads all of GB18030); writing needs a
 * table, since `TextEncoder` only writes UTF-8.
 *
 * The table is not shipped: it is built once, on first use, by decoding all
 * 23,940 two-byte codes (lead 0x81–0xFE, trail 0x40–0xFE but 0x7F) with the
 * runtime's decoder and inverting the result into a `Uint16Array` indexed by
 * BMP code point (128 KiB, ~10 ms). So it matches the decoder exactly, and
 * only a server that meets a GB18030 connection pays for it.
 *
 * GB18030's four-byte sequences (every other code point, emoji included)
 * are not written: the console of code page 936 shows them as garbage, so a
 * character GBK lacks is written as one `?` per character as the user sees
 * it (a grapheme cluster).
 *
 * @module
 */

import { graphemes } from "./text_width.ts";

let table: Uint16Array | undefined;

/** Code point → two-byte GBK code (lead << 8 | trail), 0 for none. */
function gbkTable(): Uint16Array {
  if (table) return table;
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
  table = built;
  return built;
}

const QUESTION_MARK = 0x3f;

/** True when `text` can be written in GBK without a `?`. */
export function fitsGbk(text: string): boolean {
  const codes = gbkTable();
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x80 && codes[unit] === 0) return false;
  }
  return true;
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
  const codes = gbkTable();
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
  const codes = gbkTable();
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
