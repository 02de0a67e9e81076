/**
 * When a message names you: a whole-word match of your nickname, in any
 * case, used by the terminal client (highlight and bell) and the web page
 * (highlight and notification).
 *
 * @module
 */

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
}

/**
 * A global pattern matching `me` as a whole word, or `undefined` for an
 * empty nickname. A whole word: not inside a longer name (names are
 * letters, digits, `_` and `-`).
 */
export function mentionPattern(me: string): RegExp | undefined {
  if (me === "") return undefined;
  return new RegExp(
    `(?<![\\p{L}\\p{M}\\p{N}_-])${escapeRegExp(me)}(?![\\p{L}\\p{M}\\p{N}_-])`,
    "giu",
  );
}

/**
 * True when `text` names `me` as a whole word, in any case.
 *
 * @example
 * ```ts
 * mentions("hey Alice, look", "alice"); // → true
 * mentions("malice aforethought", "alice"); // → false
 * ```
 */
export function mentions(text: string, me: string): boolean {
  const pattern = mentionPattern(me);
  return pattern !== undefined && pattern.test(text);
}
