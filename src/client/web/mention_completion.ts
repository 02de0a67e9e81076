/**
 * Tab completion of `@nick` in the web page's message field, as in
 * `chat connect`: `@b` and Tab becomes `@bob `, anywhere in the text; with
 * several matches each further Tab offers the next. Pure: text and caret
 * in, text and caret out.
 *
 * @module
 */

/** A completion made, remembered so the next Tab can offer the next match. */
export interface MentionCycle {
  /** Where the `@` is. */
  start: number;
  /** The names that match, in order. */
  matches: string[];
  /** The one inserted. */
  index: number;
  /** The text and caret as this completion left them. */
  text: string;
  caret: number;
}

/** The field after a Tab that completed something. */
export interface Completed {
  text: string;
  caret: number;
  /** Set when there are other matches for the next Tab. */
  cycle?: MentionCycle;
}

/**
 * A character of a name, as src/shared/mentions.ts reads them; one before
 * the `@` makes it part of a word (`me@example.org`), not a mention.
 */
const NAME_CHARACTER = /[\p{L}\p{M}\p{N}_-]/u;

/**
 * Completes the `@name` that ends at `caret` with one of `nicks` (compared
 * in any case), or goes on to the next match when `previous` is the
 * completion that left the field as it is. `undefined` when there is no
 * `@name` before the caret or no nick starts with it: then Tab does what
 * it always does (moves the focus on).
 *
 * @example
 * ```ts
 * completeMention("hi @b", 5, ["alice", "Bob"]);
 * // → { text: "hi @Bob ", caret: 8 }
 * completeMention("mail me@b", 9, ["bob"]); // → undefined (not a mention)
 * ```
 */
export function completeMention(
  text: string,
  caret: number,
  nicks: readonly string[],
  previous?: MentionCycle,
): Completed | undefined {
  let cycle: Omit<MentionCycle, "text" | "caret">;
  if (
    previous && previous.text === text && previous.caret === caret &&
    previous.matches.length > 1
  ) {
    cycle = {
      ...previous,
      index: (previous.index + 1) % previous.matches.length,
    };
  } else {
    // Back over the name's letters to its `@`, which must not end a word.
    let start = caret;
    while (start > 0 && NAME_CHARACTER.test(text[start - 1])) start--;
    if (start === 0 || text[start - 1] !== "@") return undefined;
    start--;
    if (start > 0 && NAME_CHARACTER.test(text[start - 1])) return undefined;
    const prefix = text.slice(start + 1, caret).toLowerCase();
    const seen = new Set<string>();
    const matches = nicks.filter((nick) => {
      const key = nick.toLowerCase();
      if (!key.startsWith(prefix) || seen.has(key)) return false;
      seen.add(key);
      return true;
    }).sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    if (matches.length === 0) return undefined;
    cycle = { start, matches, index: 0 };
  }
  // One space after the name: the one already there, or a new one.
  const after = text.slice(caret).replace(/^ /, "");
  const inserted = `@${cycle.matches[cycle.index]} `;
  const completed = text.slice(0, cycle.start) + inserted + after;
  const end = cycle.start + inserted.length;
  return {
    text: completed,
    caret: end,
    cycle: cycle.matches.length > 1
      ? { ...cycle, text: completed, caret: end }
      : undefined,
  };
}
