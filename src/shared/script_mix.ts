/**
 * Mixed-script detection of Unicode's UTS #39 (sections 5.1 and 5.2): a
 * name in one script, or in Latin with Han and the Japanese, Chinese or
 * Korean scripts that go with it, is fine ("highly restrictive"); Latin with
 * Cyrillic or Greek, the usual disguise for a look-alike, is not. Pure.
 *
 * Scripts are the characters' Script_Extensions, as the engine's
 * `\p{Script_Extensions=…}` knows them; Common and Inherited characters
 * (digits, `_`, `-`, most combining marks) go with any script.
 *
 * @module
 */

import { SCRIPT_CODES } from "./confusables_table.ts";

const ANY_SCRIPT = /^[\p{Script_Extensions=Zyyy}\p{Script_Extensions=Zinh}]$/u;

/**
 * UTS #39's augmented script sets: Han also writes Japanese (Jpan), Chinese
 * with Bopomofo (Hanb) and Korean (Kore); kana are Japanese, Hangul Korean.
 */
const WRITES: Readonly<Record<string, readonly string[]>> = {
  Jpan: ["Hani", "Hira", "Kana"],
  Hanb: ["Hani", "Bopo"],
  Kore: ["Hani", "Hang"],
};

/** The mixes "highly restrictive" allows besides a single script. */
const ALLOWED_MIXES = [["Latn", "Jpan"], ["Latn", "Hanb"], ["Latn", "Kore"]];

/** A script of its own for letters of scripts newer than the table. */
const UNLISTED = "Zzzz";

let matchers: Map<string, RegExp> | undefined;

function scriptMatchers(): Map<string, RegExp> {
  if (matchers) return matchers;
  matchers = new Map();
  for (const code of SCRIPT_CODES.join("").split(" ")) {
    try {
      matchers.set(code, new RegExp(`\\p{Script_Extensions=${code}}`, "u"));
    } catch { /* a script code this engine does not know */ }
  }
  return matchers;
}

/** True when every code unit of `text` is ASCII. */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

/** Whether `char` belongs to the (augmented) script `code`. */
function hasScript(char: string, code: string): boolean {
  if (code === UNLISTED) return scriptsOf(char).length === 0;
  const written = WRITES[code];
  if (written) return written.some((script) => hasScript(char, script));
  return scriptMatchers().get(code)?.test(char) ?? false;
}

/** Every (augmented) script of `char`; empty for a script not in the table. */
function scriptsOf(char: string): string[] {
  const scripts: string[] = [];
  for (const [code, matcher] of scriptMatchers()) {
    if (matcher.test(char)) scripts.push(code);
  }
  for (const [augmented, written] of Object.entries(WRITES)) {
    if (written.some((code) => scripts.includes(code))) {
      scripts.push(augmented);
    }
  }
  return scripts;
}

/**
 * True when `text` mixes scripts beyond UTS #39's "highly restrictive"
 * level: not a single script, nor Latin with Han and kana, Bopomofo or
 * Hangul.
 *
 * @example
 * ```ts
 * mixesScripts("alice"); // → false
 * mixesScripts("\u0430lice"); // → true (Cyrillic а, Latin lice)
 * mixesScripts("Tokyo東京とうきょう"); // → false
 * ```
 */
export function mixesScripts(text: string): boolean {
  // ASCII is Latin and Common alone: no mix, and no look through the table
  // of ~160 scripts, for most nicknames of every hello.
  if (isAscii(text)) return false;
  const chars = [...new Set(text)].filter((char) => !ANY_SCRIPT.test(char));
  if (chars.length === 0) return false;
  // A single script: one that every character has. The first character's
  // scripts are the candidates, so the others are tested against a few.
  const first = scriptsOf(chars[0]);
  let candidates = first.length > 0 ? first : [UNLISTED];
  for (const char of chars.slice(1)) {
    candidates = candidates.filter((code) => hasScript(char, code));
    if (candidates.length === 0) break;
  }
  if (candidates.length > 0) return false;
  return !ALLOWED_MIXES.some((mix) =>
    chars.every((char) => mix.some((code) => hasScript(char, code)))
  );
}
