/**
 * What the web page's search panel shows of a `search` answer: the results
 * newest first, and each text cut into pieces so the words searched for can
 * be marked (as text, never as HTML). Pure.
 *
 * @module
 */

import type { SearchHit } from "../../../protocol.ts";

/** A piece of a result's text: marked when it is one of the words searched. */
export interface TextPiece {
  text: string;
  marked: boolean;
}

/** The words of a search, as the server splits them (on white space). */
export function searchWords(text: string): string[] {
  return [...new Set(text.trim().split(/\s+/u).filter((w) => w !== ""))];
}

/**
 * Cuts `text` into pieces, marking every place one of `words` occurs, in
 * any case (`作业` in `数学作业`, `Homework` for `homework`).
 *
 * @example
 * ```ts
 * markWords("数学作业 done", ["作业"]);
 * // → [{ text: "数学", marked: false }, { text: "作业", marked: true },
 * //    { text: " done", marked: false }]
 * ```
 */
export function markWords(text: string, words: readonly string[]): TextPiece[] {
  const wanted = words.filter((w) => w !== "")
    // The longest first, so `作业本` wins over `作业` where both match.
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (wanted.length === 0) return [{ text, marked: false }];
  const pattern = new RegExp(wanted.join("|"), "giu");
  const pieces: TextPiece[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match[0] === "") continue;
    if (match.index > last) {
      pieces.push({ text: text.slice(last, match.index), marked: false });
    }
    pieces.push({ text: match[0], marked: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) {
    pieces.push({ text: text.slice(last), marked: false });
  }
  return pieces;
}

/** The results newest first (the server's order; kept whatever it sends). */
export function newestFirst(results: readonly SearchHit[]): SearchHit[] {
  return [...results].sort((a, b) => b.id - a.id || b.ts - a.ts);
}

/** A well-formed result from the wire, or `undefined`. */
export function readHit(value: unknown): SearchHit | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const h = value as Record<string, unknown>;
  if (
    typeof h.id !== "number" || typeof h.ts !== "number" ||
    typeof h.room !== "string" || typeof h.from !== "string" ||
    typeof h.text !== "string"
  ) {
    return undefined;
  }
  return { id: h.id, ts: h.ts, room: h.room, from: h.from, text: h.text };
}
