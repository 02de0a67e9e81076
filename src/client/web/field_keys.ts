/**
 * What a key pressed in the web page's message field does: the same keys
 * as `chat connect` where a browser allows them. Enter sends; Shift-Enter,
 * Alt-Enter and Ctrl-J add a line break; Tab completes an `@nick`; Esc
 * cancels a reply; Alt-Up and Alt-Down (or Ctrl-Up and Ctrl-Down) pick the
 * message to answer. Pure: the page reads the event, this says what it
 * means.
 *
 * @module
 */

/** What the page does with a key. */
export type FieldKeyAction =
  /** Send the field's text. */
  | "send"
  /** Put a line break at the caret (the browser would not, for this key). */
  | "newline"
  /** Let the browser do what it does (Shift-Enter's line break among them). */
  | "default"
  /**
   * Do nothing, not even the browser's default: an Enter that came while an
   * input method composes but was not taken by it (key code 229) must
   * neither send nor break the line.
   */
  | "ignore"
  /** Complete the `@name` before the caret, if it names someone. */
  | "complete"
  /** Cancel the reply being written, if there is one. */
  | "cancel"
  /** Pick the message before the one being answered (the newest at first). */
  | "older"
  /** Pick the message after the one being answered (past the newest: none). */
  | "newer";

/** The parts of a `KeyboardEvent` that decide. */
export interface KeyPress {
  key: string;
  shiftKey: boolean;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  /** True while an input method composes (most browsers). */
  isComposing: boolean;
  /** 229 for a key an input method takes (Safari's Enter after a composition). */
  keyCode: number;
}

/**
 * What `press` does. While an input method composes (`isComposing`, key
 * code 229, or between `compositionstart` and `compositionend`, which the
 * caller tracks as `composing`), every key is the input method's: Enter
 * picks a candidate and never sends half a word (nor, in a field of several
 * lines, breaks the line).
 *
 * @example
 * ```ts
 * const press = { key: "Enter", shiftKey: false, altKey: false, ctrlKey: false,
 *   metaKey: false, isComposing: false, keyCode: 13 };
 * fieldKeyAction(press, false); // → "send"
 * fieldKeyAction({ ...press, shiftKey: true }, false); // → "default" (a line break)
 * fieldKeyAction({ ...press, keyCode: 229, isComposing: true }, false); // → "default"
 * ```
 */
export function fieldKeyAction(
  press: KeyPress,
  composing: boolean,
): FieldKeyAction {
  if (press.isComposing || press.keyCode === 229 || composing) {
    const unclaimedEnter = press.key === "Enter" && !press.shiftKey &&
      press.keyCode !== 229;
    return unclaimedEnter ? "ignore" : "default";
  }
  const { key, shiftKey, altKey, ctrlKey, metaKey } = press;
  switch (key) {
    case "Enter":
      // A textarea breaks the line on Shift-Enter by itself.
      if (shiftKey) return "default";
      if (altKey) return "newline";
      return "send";
    case "j":
    case "J":
      return ctrlKey && !altKey && !metaKey && !shiftKey
        ? "newline"
        : "default";
    case "Tab":
      return shiftKey || altKey || ctrlKey || metaKey ? "default" : "complete";
    case "Escape":
      return "cancel";
    case "ArrowUp":
    case "ArrowDown":
      if (shiftKey || metaKey || altKey === ctrlKey) return "default";
      return key === "ArrowUp" ? "older" : "newer";
  }
  return "default";
}
