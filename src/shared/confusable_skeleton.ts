/**
 * The confusable skeleton of Unicode's UTS #39 (section 4): two strings that
 * look alike in common fonts, such as `alice` and `аlice` with a Cyrillic
 * `а`, have the same skeleton. Pure; the data is the generated
 * {@link ./confusables_table.ts}.
 *
 * @module
 */

import { PACKED_PROTOTYPES } from "./confusables_table.ts";

let prototypes: Map<number, string> | undefined;

/** Unpacks the table on first use (about 6,300 entries, a few ms). */
function prototypeTable(): Map<number, string> {
  if (prototypes) return prototypes;
  const table = new Map<number, string>();
  for (const group of PACKED_PROTOTYPES.join("").split(" ")) {
    const [target, sources] = group.split(":");
    const prototype = String.fromCodePoint(
      ...target.split(".").map((n) => parseInt(n, 36)),
    );
    let source = 0;
    for (const delta of sources.split(",")) {
      source += parseInt(delta, 36);
      table.set(source, prototype);
    }
  }
  return prototypes = table;
}

/**
 * The skeleton of `text`: NFD, each character replaced by its prototype
 * from `confusables.txt`, NFD again. Not meant to be shown (`m` becomes
 * `rn`); only to compare.
 *
 * @example
 * ```ts
 * confusableSkeleton("\u0430lice") === confusableSkeleton("alice"); // → true
 * ```
 */
export function confusableSkeleton(text: string): string {
  const table = prototypeTable();
  let out = "";
  for (const char of text.normalize("NFD")) {
    out += table.get(char.codePointAt(0)!) ?? char;
  }
  return out.normalize("NFD");
}
