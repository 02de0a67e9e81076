/**
 * Sanitising at the boundary: what a user may put into a nickname, a room name
 * or a message, decided here so no other code worries about control bytes.
 *
 * @module
 */

import { PROTOCOL_LIMITS } from "./limits.ts";

// C0 controls but tab, DEL, C1 controls, and the bidi embeddings, overrides
// and isolates (U+202A–U+202E, U+2066–U+2069) that can reorder what others see.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
// deno-lint-ignore no-control-regex
const HAS_UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const NAME = /^[\p{L}\p{M}\p{N}_-]+$/u;

/**
 * Makes message text safe to store and show: tabs become spaces, every other
 * control character and bidi override is removed, so no sequence from one
 * user can reach another user's terminal as a command. A lone surrogate
 * becomes U+FFFD.
 *
 * @example
 * ```ts
 * cleanText("hi\x1b[2J\tthere"); // → "hi[2J there"
 * ```
 */
export function cleanText(text: string): string {
  // A lone surrogate (JSON's "\ud800") has no UTF-8 form: SQLite and the text
  // dialect would carry U+FFFD while a JSON echo kept the escape. Replaced
  // here, once, the live echo and the history replay say the same thing.
  const whole = text.isWellFormed() ? text : text.toWellFormed();
  if (!HAS_UNSAFE.test(whole) && !whole.includes("\t")) return whole;
  return whole.replaceAll("\t", " ").replace(UNSAFE, "");
}

/** True when `text` holds a control character or bidi override. */
export function hasUnsafeCharacters(text: string): boolean {
  return HAS_UNSAFE.test(text) || text.includes("\t");
}

/** Length in characters (code points), not UTF-16 units. */
export function characterCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** True for a valid nickname: 1–24 letters, digits, `_` or `-`, any script. */
export function isValidNick(nick: string): boolean {
  return isName(nick, PROTOCOL_LIMITS.maxNickChars);
}

/** True for a valid room name: 1–32 letters, digits, `_` or `-`, any script. */
export function isValidRoom(room: string): boolean {
  return isName(room, PROTOCOL_LIMITS.maxRoomChars);
}

function isName(name: string, maxChars: number): boolean {
  return name.length > 0 && name.length <= maxChars * 2 &&
    characterCount(name) <= maxChars && NAME.test(name);
}

/**
 * The key under which a nickname is unique: compatibility forms folded (NFKC)
 * and case ignored, so `Alice`, `alice` and `ａｌｉｃｅ` are one name.
 */
export function nickKey(nick: string): string {
  return nick.normalize("NFKC").toLowerCase();
}
