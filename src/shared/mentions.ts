/**
 * When a message names you: a whole-word match of your nickname, in any
 * case, used by the terminal client (highlight and bell) and the web page
 * (highlight and notification); and the `@nick` and `@all` mentions the hub
 * reads once per message to fill a `msg`'s `mentions` and `all`.
 *
 * @module
 */

import { PROTOCOL_LIMITS } from "./limits.ts";

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

// `@` not inside a word (so `me@example.com` names no one), then a name.
const MENTION = /(?<![\p{L}\p{M}\p{N}_-])@([\p{L}\p{M}\p{N}_-]+)/gu;

/** The words that call everyone in the room: `@all`, and QQ's `@全体成员`. */
export const EVERYONE_WORDS: readonly string[] = ["all", "全体成员"];

/** What {@linkcode findMentions} found. */
export interface Mentions {
  /** The names after each `@`, in order, at most twice the mention cap. */
  nicks: string[];
  /** True when the text calls `@all` (or `@全体成员`). */
  all: boolean;
}

/**
 * The `@names` in a message text. Whether a name is a member is the hub's
 * to decide.
 *
 * @example
 * ```ts
 * findMentions("@bob did you see, @all? mail me@x.org");
 * // → { nicks: ["bob"], all: true }
 * ```
 */
export function findMentions(text: string): Mentions {
  const nicks: string[] = [];
  let all = false;
  for (const match of text.matchAll(MENTION)) {
    const name = match[1];
    if (EVERYONE_WORDS.includes(name.toLowerCase())) all = true;
    else if (nicks.length < PROTOCOL_LIMITS.maxMentions * 2) nicks.push(name);
  }
  return { nicks, all };
}
