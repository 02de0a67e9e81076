/**
 * How many terminal columns text takes: East Asian wide characters and emoji
 * take two, combining marks and joiners none, everything else one.
 *
 * Text is measured per grapheme cluster (what a user sees as one character),
 * so `é` written as `e` + U+0301, or 👋🏽 (hand + skin tone), count once. Pure.
 *
 * @module
 */

// East Asian Width W and F from Unicode 14 (EastAsianWidth.txt), merged over
// unassigned gaps; planes 2 and 3 are wide as a whole. Generated with Python's
// unicodedata: category != "Cn" and east_asian_width in ("W", "F").
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x3247],
  [0x3250, 0x4dbf],
  [0x4e00, 0xa4c6],
  [0xa960, 0xa97c],
  [0xac00, 0xd7a3],
  [0xf900, 0xfad9],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6b],
  [0xff01, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x1b2fb],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f320],
  [0x1f32d, 0x1f335],
  [0x1f337, 0x1f37c],
  [0x1f37e, 0x1f393],
  [0x1f3a0, 0x1f3ca],
  [0x1f3cf, 0x1f3d3],
  [0x1f3e0, 0x1f3f0],
  [0x1f3f4, 0x1f3f4],
  [0x1f3f8, 0x1f43e],
  [0x1f440, 0x1f440],
  [0x1f442, 0x1f4fc],
  [0x1f4ff, 0x1f53d],
  [0x1f54b, 0x1f54e],
  [0x1f550, 0x1f567],
  [0x1f57a, 0x1f57a],
  [0x1f595, 0x1f596],
  [0x1f5a4, 0x1f5a4],
  [0x1f5fb, 0x1f64f],
  [0x1f680, 0x1f6c5],
  [0x1f6cc, 0x1f6cc],
  [0x1f6d0, 0x1f6d2],
  [0x1f6d5, 0x1f6df],
  [0x1f6eb, 0x1f6ec],
  [0x1f6f4, 0x1f6fc],
  [0x1f7e0, 0x1f7f0],
  [0x1f90c, 0x1f93a],
  [0x1f93c, 0x1f945],
  [0x1f947, 0x1f9ff],
  [0x1fa70, 0x1faf6],
  [0x20000, 0x3fffd],
];

function isWide(codePoint: number): boolean {
  let low = 0;
  let high = WIDE_RANGES.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [start, end] = WIDE_RANGES[middle];
    if (codePoint < start) high = middle - 1;
    else if (codePoint > end) low = middle + 1;
    else return true;
  }
  return false;
}

// Marks that draw on the character before them, format characters (ZWJ,
// zero-width space, bidi marks), and Hangul vowel and final jamo, which join
// the syllable before them.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff\ud7b0-\ud7ff]/u;
// deno-lint-ignore no-control-regex
const CONTROL = /^[\x00-\x1f\x7f-\x9f]/;
const EMOJI_PRESENTATION = /^[\p{Emoji_Presentation}\p{Regional_Indicator}]/u;
const EMOJI = /^\p{Emoji}/u;
const VARIATION_SELECTOR_EMOJI = "\ufe0f";
const ZERO_WIDTH_JOINER = "\u200d";
const SKIN_TONE = /[\u{1F3FB}-\u{1F3FF}]/u;

/**
 * How the terminal draws emoji sequences. Terminals disagree here (tmux and
 * xterm draw a skin tone as a second emoji, ❤️ in one column; kitty, iTerm2
 * and Windows Terminal draw both as one wide glyph), so the client measures
 * its terminal at startup; see {@linkcode EMOJI_WIDTH_PROBES}.
 */
export interface EmojiWidths {
  /** Columns of a symbol turned emoji by U+FE0F, such as ❤️: 1 or 2. */
  variationSelector: number;
  /** A skin tone joins its base into one glyph (else it takes 2 more columns). */
  skinToneJoins: boolean;
  /** A ZWJ sequence such as 👨‍👩‍👧 is one glyph (else each part is drawn). */
  zwjJoins: boolean;
}

/** What current terminals do, used until (or unless) the terminal is measured. */
export const MODERN_EMOJI_WIDTHS: EmojiWidths = {
  variationSelector: 2,
  skinToneJoins: true,
  zwjJoins: true,
};

/** Text the client draws and measures, in order, to learn its terminal's widths. */
export const EMOJI_WIDTH_PROBES: readonly string[] = [
  "\u2764\ufe0f", // ❤️
  "\u{1F44B}\u{1F3FD}", // 👋🏽
  "\u{1F468}\u200d\u{1F469}\u200d\u{1F467}", // 👨‍👩‍👧
];

/** Reads the measured widths of {@linkcode EMOJI_WIDTH_PROBES} as a profile. */
export function emojiWidthsFromProbes(
  measured: readonly number[],
): EmojiWidths {
  const [variation, skinTone, zwj] = measured;
  return {
    variationSelector: variation === 1 ? 1 : 2,
    skinToneJoins: skinTone !== 4,
    zwjJoins: zwj === undefined || zwj <= 2,
  };
}

let emojiWidths: EmojiWidths = MODERN_EMOJI_WIDTHS;

/**
 * Sets how emoji sequences are measured from now on, for the one terminal
 * this process draws on.
 */
export function setEmojiWidths(widths: EmojiWidths): void {
  emojiWidths = widths;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Splits text into grapheme clusters, the units the cursor moves over.
 *
 * @example
 * ```ts
 * graphemes("e\u0301👋🏽!"); // → ["é", "👋🏽", "!"]
 * ```
 */
export function graphemes(text: string): string[] {
  if (isPlainAscii(text)) return text.split("");
  const cells: string[] = [];
  for (const { segment } of segmenter.segment(text)) cells.push(segment);
  return cells;
}

function isPlainAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Controls take the slow path: they are zero wide, and `\r\n` is one.
    if (code > 0x7e || code < 0x20) return false;
  }
  return true;
}

/**
 * Columns one grapheme cluster takes: usually 0, 1 or 2. A cluster is as wide
 * as its first character, or as an emoji when a variation selector makes it
 * one; skin tones and ZWJ sequences follow the terminal's measured habits
 * ({@linkcode setEmojiWidths}).
 *
 * @example
 * ```ts
 * graphemeWidth("你"); // → 2
 * graphemeWidth("a"); // → 1
 * graphemeWidth("\u0301"); // → 0
 * ```
 */
export function graphemeWidth(grapheme: string): number {
  const code = grapheme.charCodeAt(0);
  if (code >= 0x20 && code < 0x7f) return 1;
  if (grapheme.length === 0 || CONTROL.test(grapheme)) return 0;
  if (grapheme.length > 2) {
    if (!emojiWidths.zwjJoins && grapheme.includes(ZERO_WIDTH_JOINER)) {
      let width = 0;
      for (const part of grapheme.split(ZERO_WIDTH_JOINER)) {
        if (part !== "") width += graphemeWidth(part);
      }
      return width;
    }
    if (!emojiWidths.skinToneJoins && SKIN_TONE.test(grapheme.slice(1))) {
      const base = grapheme.replace(SKIN_TONE, "");
      return graphemeWidth(base) + 2;
    }
  }
  const codePoint = grapheme.codePointAt(0)!;
  if (isWide(codePoint) || EMOJI_PRESENTATION.test(grapheme)) return 2;
  if (grapheme.includes(VARIATION_SELECTOR_EMOJI) && EMOJI.test(grapheme)) {
    return emojiWidths.variationSelector;
  }
  if (ZERO_WIDTH.test(grapheme)) return 0;
  return 1;
}

/**
 * Columns a string takes on a terminal.
 *
 * @example
 * ```ts
 * textWidth("你好，世界 👋"); // → 13
 * ```
 */
export function textWidth(text: string): number {
  if (isPlainAscii(text)) return text.length;
  let width = 0;
  for (const cell of graphemes(text)) width += graphemeWidth(cell);
  return width;
}

/**
 * The longest start of `text` that fits in `columns`, never cutting a wide
 * character in half.
 *
 * @example
 * ```ts
 * fitWidth("你好世界", 5); // → { text: "你好", width: 4 }
 * ```
 */
export function fitWidth(
  text: string,
  columns: number,
): { text: string; width: number } {
  let width = 0;
  let end = 0;
  for (const cell of graphemes(text)) {
    const cellWidth = graphemeWidth(cell);
    if (width + cellWidth > columns) break;
    width += cellWidth;
    end += cell.length;
  }
  return { text: text.slice(0, end), width };
}
