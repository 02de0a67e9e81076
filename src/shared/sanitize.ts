/**
 * Sanitising at the boundary: what a user may put into a nickname, a room name
 * or a message, decided here so no other code worries about control bytes.
 *
 * @module
 */

import { confusableSkeleton } from "./confusable_skeleton.ts";
import { PROTOCOL_LIMITS } from "./limits.ts";
import { mixesScripts } from "./script_mix.ts";

// C0 controls but tab, DEL, C1 controls, and the bidi embeddings, overrides
// and isolates (U+202A–U+202E, U+2066–U+2069) that can reorder what others see.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
// deno-lint-ignore no-control-regex
const HAS_UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const NAME = /^[\p{L}\p{M}\p{N}_-]+$/u;
const STARTS_WELL = /^[\p{L}\p{N}]/u;
// Characters that show as nothing: zero-width ones, variation selectors and
// the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), which are letters.
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;
const NONSPACING_MARK = /^[\p{Mn}\p{Me}]$/u;
/** UTS #39 (5.4): more nonspacing marks on one letter than any script needs. */
const MAX_MARKS_IN_A_ROW = 4;

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

// The same, but line feeds are kept: a message may hold several lines.
const UNSAFE_BUT_NEWLINE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Makes a message's text safe like {@linkcode cleanText}, but keeps its line
 * breaks: `\n` stays, `\r` is dropped (so `\r\n` is one break), every other control is
 * removed, and blank lines at the start and end are trimmed. Each renderer
 * then decides how a continuation line looks (indented under the first), so
 * a `\n` can never start a line that pretends to be another message.
 *
 * @example
 * ```ts
 * cleanMessageText("first\r\nsecond\x1b[2J"); // → "first\nsecond[2J"
 * ```
 */
export function cleanMessageText(text: string): string {
  const whole = text.isWellFormed() ? text : text.toWellFormed();
  if (!HAS_UNSAFE.test(whole) && !whole.includes("\t")) return whole.trim();
  return whole.replaceAll("\r", "")
    .replaceAll("\t", " ").replace(UNSAFE_BUT_NEWLINE, "").trim();
}

/** Lines in a message text: one more than its line feeds. */
export function lineCount(text: string): number {
  let lines = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    lines++;
  }
  return lines;
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

/**
 * What makes a nickname unfit, if anything:
 * - `malformed`: not 1–24 letters, digits, `_` or `-` starting with a letter
 *   or digit (so a name of combining marks alone is malformed);
 * - `invisible`: it holds a character that shows as nothing
 *   (Default_Ignorable_Code_Point: zero-width characters, Hangul fillers);
 * - `marks`: more than 4 nonspacing marks in a row, or one doubled;
 * - `mixed_scripts`: scripts mixed beyond UTS #39's "highly restrictive"
 *   level, such as Latin with Cyrillic.
 */
export type NickProblem = "malformed" | "invisible" | "marks" | "mixed_scripts";

/**
 * Why `nick` cannot be a nickname, or `undefined` when it can.
 *
 * @example
 * ```ts
 * nickProblem("小明"); // → undefined
 * nickProblem("alice\u3164"); // → "invisible"
 * nickProblem("\u0430lice"); // → "mixed_scripts" (Cyrillic а)
 * ```
 */
export function nickProblem(nick: string): NickProblem | undefined {
  if (INVISIBLE.test(nick) || INVISIBLE.test(nick.normalize("NFKC"))) {
    return "invisible";
  }
  if (!isName(nick, PROTOCOL_LIMITS.maxNickChars)) return "malformed";
  if (!STARTS_WELL.test(nick)) return "malformed";
  if (stacksMarks(nick)) return "marks";
  if (mixesScripts(nick)) return "mixed_scripts";
  return undefined;
}

/** True for a valid nickname (see {@linkcode nickProblem}). */
export function isValidNick(nick: string): boolean {
  return nickProblem(nick) === undefined;
}

function stacksMarks(nick: string): boolean {
  let run = 0;
  let previous = "";
  for (const char of nick.normalize("NFD")) {
    if (!NONSPACING_MARK.test(char)) {
      run = 0;
    } else if (++run > MAX_MARKS_IN_A_ROW || char === previous) {
      return true;
    }
    previous = char;
  }
  return false;
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
 * The key under which a nickname is one name: compatibility forms folded
 * (NFKC) and case ignored, so `Alice`, `alice` and `ａｌｉｃｅ` are one name.
 * Who a nickname names (a `dm`, a mention) is decided by this key.
 */
export function nickKey(nick: string): string {
  return nick.normalize("NFKC").toLowerCase();
}

/**
 * The keys under which a nickname looks like another: the UTS #39
 * confusable skeleton of its {@linkcode nickKey} (`аlice` with a Cyrillic
 * `а` looks like `alice`) and of its NFKC form with case kept (`Ilya`, with
 * a capital i, looks like `llya`). Two nicknames that share a key must not be
 * connected at once.
 */
export function lookalikeKeys(nick: string): string[] {
  const folded = nick.normalize("NFKC");
  const keys = [confusableSkeleton(folded.toLowerCase())];
  const cased = confusableSkeleton(folded);
  if (cased !== keys[0]) keys.push(cased);
  return keys;
}
