/**
 * A nickname's colour, the same on every screen: the terminal client paints
 * it with an ANSI colour, the web page with the CSS colour of the same name.
 *
 * @module
 */

import { nickKey } from "./sanitize.ts";

/**
 * Readable ANSI foreground colours (SGR codes); black, white and
 * blue-on-dark are left out. The web page has one CSS colour per code.
 */
export const NICK_COLOURS = [
  31,
  32,
  33,
  35,
  36,
  91,
  92,
  93,
  94,
  95,
  96,
] as const;

/** One of {@linkcode NICK_COLOURS}. */
export type NickColour = typeof NICK_COLOURS[number];

/**
 * The colour of a nickname: a hash of the nickname's case-folded form, so the
 * same nick has the same colour on every screen and in every session.
 *
 * @example
 * ```ts
 * nickColour("Bob") === nickColour("bob"); // → true
 * ```
 */
export function nickColour(nick: string): NickColour {
  // FNV-1a, 32-bit.
  let hash = 0x811c9dc5;
  for (const char of nickKey(nick)) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193);
  }
  return NICK_COLOURS[(hash >>> 0) % NICK_COLOURS.length];
}
