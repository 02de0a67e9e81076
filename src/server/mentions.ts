/**
 * Who a message names: `@nick` mentions and `@all`, and the short quote a
 * reply carries. Pure; the hub calls it once per message, never per
 * recipient.
 *
 * @module
 */

import type { Quote, RoomMessage } from "../../protocol.ts";
import { PROTOCOL_LIMITS } from "../shared/limits.ts";

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

/**
 * The quote a reply to `original` carries: its sender and the first
 * characters of its text on one line (line breaks become spaces), `…` when
 * cut.
 */
export function quoteOf(original: RoomMessage): Quote {
  const chars = [...original.text.replaceAll("\n", " ")];
  const max = PROTOCOL_LIMITS.quoteChars;
  const text = chars.length > max
    ? chars.slice(0, max - 1).join("") + "…"
    : chars.join("");
  return { id: original.id, from: original.from, text };
}
