/**
 * Terminal input bytes → key events: printable text, named keys, and
 * bracketed pastes. Pure and incremental: a UTF-8 character or an escape
 * sequence split across two reads is held until the rest arrives.
 *
 * A lone ESC is ambiguous (the Escape key, or the start of a sequence still
 * on its way), so it is held; the caller calls {@linkcode KeyDecoder.flush}
 * after a short quiet time to read it as Escape.
 *
 * @module
 */

import { CONNECT_DEFAULTS } from "../shared/limits.ts";

/** A key with a name (everything that is not plain text). */
export type KeyName =
  | "enter"
  /** Ctrl-J or Alt-Enter: a line break in the message being typed. */
  | "newline"
  | "tab"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "up"
  | "down"
  | "home"
  | "end"
  | "word-left"
  | "word-right"
  | "delete-word-back"
  | "delete-word-forward"
  | "page-up"
  | "page-down"
  /**
   * Alt-Up (also Ctrl-Up): one message further back, to pick the one a
   * reply answers. xterm, tmux and Windows Terminal send `ESC [ 1 ; 3 A`;
   * PuTTY and rxvt send ESC before the arrow, `ESC ESC [ A`.
   */
  | "message-up"
  /** Alt-Down (also Ctrl-Down): one message forward again. */
  | "message-down"
  | "escape"
  | "alt-1"
  | "alt-2"
  | "alt-3"
  | "alt-4"
  | "alt-5"
  | "alt-6"
  | "alt-7"
  | "alt-8"
  | "alt-9"
  | "ctrl-a"
  | "ctrl-b"
  | "ctrl-c"
  | "ctrl-d"
  | "ctrl-e"
  | "ctrl-f"
  | "ctrl-g"
  | "ctrl-k"
  | "ctrl-l"
  | "ctrl-n"
  | "ctrl-o"
  | "ctrl-p"
  | "ctrl-q"
  | "ctrl-r"
  | "ctrl-s"
  | "ctrl-t"
  | "ctrl-u"
  | "ctrl-v"
  | "ctrl-w"
  | "ctrl-x"
  | "ctrl-y"
  | "ctrl-z";

/** One decoded input event. */
export type KeyEvent =
  | { type: "text"; text: string }
  | { type: "key"; key: KeyName }
  | { type: "paste"; text: string; truncated: boolean }
  /** The terminal's answer to `ESC [ 6 n`: where the cursor is, 1-based. */
  | { type: "cursor"; row: number; column: number };

const ESC = "\x1b";
const PASTE_END = "\x1b[201~";
/** Longer than any sequence we know: a runaway is dropped, not buffered. */
const MAX_SEQUENCE_CHARS = 32;

const CTRL_KEYS: Record<number, KeyName | undefined> = {
  0x01: "ctrl-a",
  0x02: "ctrl-b",
  0x03: "ctrl-c",
  0x04: "ctrl-d",
  0x05: "ctrl-e",
  0x06: "ctrl-f",
  0x07: "ctrl-g",
  0x08: "backspace",
  0x09: "tab",
  // Enter sends CR in raw mode; LF is Ctrl-J, a line break while typing.
  0x0a: "newline",
  0x0b: "ctrl-k",
  0x0c: "ctrl-l",
  0x0d: "enter",
  0x0e: "ctrl-n",
  0x0f: "ctrl-o",
  0x10: "ctrl-p",
  0x11: "ctrl-q",
  0x12: "ctrl-r",
  0x13: "ctrl-s",
  0x14: "ctrl-t",
  0x15: "ctrl-u",
  0x16: "ctrl-v",
  0x17: "ctrl-w",
  0x18: "ctrl-x",
  0x19: "ctrl-y",
  0x1a: "ctrl-z",
  0x7f: "backspace",
};

/** CSI sequences ending in a letter: `ESC [ A`, `ESC [ 1 ; 5 D`. */
const CSI_LETTER: Record<string, KeyName | undefined> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

/** CSI sequences ending in `~`: `ESC [ 3 ~`. */
const CSI_TILDE: Record<string, KeyName | undefined> = {
  "1": "home",
  "3": "delete",
  "4": "end",
  "5": "page-up",
  "6": "page-down",
  "7": "home",
  "8": "end",
};

/** ESC followed by a character (Alt/Meta held), as readline reads them. */
const ALT_KEYS: Record<string, KeyName | undefined> = {
  b: "word-left",
  f: "word-right",
  d: "delete-word-forward",
  "\x7f": "delete-word-back",
  "\x08": "delete-word-back",
  // Alt-Enter: a line break, as in Slack's and Element's terminals.
  "\r": "newline",
  "\n": "newline",
  // Alt-1 … Alt-9: the chat client's room switch, as in irssi and weechat.
  "1": "alt-1",
  "2": "alt-2",
  "3": "alt-3",
  "4": "alt-4",
  "5": "alt-5",
  "6": "alt-6",
  "7": "alt-7",
  "8": "alt-8",
  "9": "alt-9",
};

type Parsed =
  | { kind: "event"; event: KeyEvent | undefined; length: number }
  | { kind: "incomplete" };

/**
 * Decodes terminal input into {@linkcode KeyEvent}s.
 *
 * @example
 * ```ts
 * const decoder = new KeyDecoder();
 * decoder.push(new TextEncoder().encode("hi\x1b[D"));
 * // → [{ type: "text", text: "hi" }, { type: "key", key: "left" }]
 * ```
 */
export class KeyDecoder {
  #utf8 = new TextDecoder();
  #pending = "";
  #paste: string | undefined;
  #pasteTruncated = false;
  #maxPasteChars: number;

  /** @param maxPasteChars a longer paste is cut here. @default {262144} */
  constructor(maxPasteChars: number = CONNECT_DEFAULTS.maxPasteChars) {
    this.#maxPasteChars = maxPasteChars;
  }

  /** True when input is held that {@linkcode flush} would turn into a key. */
  get hasPending(): boolean {
    return this.#pending.length > 0 && this.#paste === undefined;
  }

  /** Feeds bytes read from the terminal; returns the complete events. */
  push(bytes: Uint8Array): KeyEvent[] {
    this.#pending += this.#utf8.decode(bytes, { stream: true });
    return this.#drain();
  }

  /**
   * Reads what is held as final: a lone ESC is the Escape key, an unfinished
   * sequence is dropped. Call it when no input came for a short while.
   */
  flush(): KeyEvent[] {
    if (!this.hasPending) return [];
    const held = this.#pending;
    this.#pending = "";
    // ESC alone, or pressed twice quickly (held as a possible Alt-arrow).
    if (held === ESC || held === ESC + ESC) {
      return [...held].map(() => ({ type: "key", key: "escape" }));
    }
    return [];
  }

  #drain(): KeyEvent[] {
    const events: KeyEvent[] = [];
    while (this.#pending.length > 0) {
      if (this.#paste !== undefined) {
        if (!this.#continuePaste(events)) break;
        continue;
      }
      const parsed = this.#parse(this.#pending);
      if (parsed.kind === "incomplete") break;
      this.#pending = this.#pending.slice(parsed.length);
      if (parsed.event) appendEvent(events, parsed.event);
    }
    return events;
  }

  /** Takes pasted text up to the end marker; false when more is needed. */
  #continuePaste(events: KeyEvent[]): boolean {
    const end = this.#pending.indexOf(PASTE_END);
    if (end === -1) {
      // Keep a tail that may be the start of the end marker.
      const keep = partialSuffix(this.#pending, PASTE_END);
      this.#addPaste(this.#pending.slice(0, this.#pending.length - keep));
      this.#pending = this.#pending.slice(this.#pending.length - keep);
      return false;
    }
    this.#addPaste(this.#pending.slice(0, end));
    this.#pending = this.#pending.slice(end + PASTE_END.length);
    events.push({
      type: "paste",
      text: this.#paste!,
      truncated: this.#pasteTruncated,
    });
    this.#paste = undefined;
    this.#pasteTruncated = false;
    return true;
  }

  #addPaste(text: string): void {
    const room = this.#maxPasteChars - this.#paste!.length;
    if (text.length > room) {
      this.#pasteTruncated = true;
      text = text.slice(0, Math.max(0, room));
    }
    this.#paste += text;
  }

  #parse(input: string): Parsed {
    const code = input.charCodeAt(0);
    if (input[0] === ESC) return this.#parseEscape(input);
    if (code === 0x0d && input[1] === "\n") {
      return { kind: "event", event: { type: "key", key: "enter" }, length: 2 };
    }
    if (code < 0x20 || code === 0x7f) {
      const key = CTRL_KEYS[code];
      return {
        kind: "event",
        event: key ? { type: "key", key } : undefined,
        length: 1,
      };
    }
    if (code >= 0x80 && code <= 0x9f) {
      // C1 controls (8-bit CSI and friends): never text.
      return { kind: "event", event: undefined, length: 1 };
    }
    let end = 1;
    while (end < input.length) {
      const next = input.charCodeAt(end);
      if (next < 0x20 || next === 0x7f || (next >= 0x80 && next <= 0x9f)) {
        break;
      }
      end++;
    }
    return {
      kind: "event",
      event: { type: "text", text: input.slice(0, end) },
      length: end,
    };
  }

  #parseEscape(input: string): Parsed {
    if (input.length === 1) return { kind: "incomplete" };
    const second = input[1];
    if (second === "[") return this.#parseCsi(input);
    if (second === "O") {
      if (input.length < 3) return { kind: "incomplete" };
      const key = CSI_LETTER[input[2]];
      return {
        kind: "event",
        event: key ? { type: "key", key } : undefined,
        length: 3,
      };
    }
    if (second === ESC) return this.#parseAltSequence(input);
    const key = ALT_KEYS[second];
    return {
      kind: "event",
      event: key ? { type: "key", key } : undefined,
      length: 2,
    };
  }

  /**
   * ESC before a sequence: Alt held with an arrow, as PuTTY and rxvt send
   * it (`ESC ESC [ A`). Anything else after the first ESC is read on its
   * own, the ESC being the Escape key.
   */
  #parseAltSequence(input: string): Parsed {
    const escape: Parsed = {
      kind: "event",
      event: { type: "key", key: "escape" },
      length: 1,
    };
    if (input.length === 2) return { kind: "incomplete" };
    if (input[2] !== "[" && input[2] !== "O") return escape;
    const inner = this.#parseEscape(input.slice(1));
    if (inner.kind === "incomplete") return inner;
    if (inner.event?.type !== "key") return escape;
    const alt: Partial<Record<KeyName, KeyName>> = {
      up: "message-up",
      down: "message-down",
      left: "word-left",
      right: "word-right",
    };
    const key = alt[inner.event.key];
    if (key === undefined) return escape;
    return {
      kind: "event",
      event: { type: "key", key },
      length: inner.length + 1,
    };
  }

  #parseCsi(input: string): Parsed {
    // ESC [ parameters (0x30–0x3f) intermediates (0x20–0x2f) final (0x40–0x7e)
    let end = 2;
    while (end < input.length) {
      const code = input.charCodeAt(end);
      if (code >= 0x40 && code <= 0x7e) break;
      if (code < 0x20 || code > 0x3f) {
        // Not a sequence after all: drop the ESC [ and read on.
        return { kind: "event", event: undefined, length: end };
      }
      end++;
    }
    if (end >= input.length) {
      if (input.length > MAX_SEQUENCE_CHARS) {
        return { kind: "event", event: undefined, length: input.length };
      }
      return { kind: "incomplete" };
    }
    const params = input.slice(2, end);
    const final = input[end];
    const length = end + 1;
    if (final === "~" && params === "200") {
      // ESC [ 200 ~ opens a bracketed paste; ESC [ 201 ~ closes it.
      this.#paste = "";
      this.#pasteTruncated = false;
      return { kind: "event", event: undefined, length };
    }
    const [first, modifier] = params.split(";");
    if (final === "R" && /^\d+;\d+$/.test(params)) {
      return {
        kind: "event",
        event: { type: "cursor", row: Number(first), column: Number(modifier) },
        length,
      };
    }
    let key: KeyName | undefined = final === "~"
      ? CSI_TILDE[first]
      : CSI_LETTER[final];
    // Ctrl (5), Alt (3) or both (7) with an arrow moves by word, as in
    // readline; up and down walk through the messages, as in Telegram.
    if (modifier === "5" || modifier === "3" || modifier === "7") {
      if (key === "left") key = "word-left";
      else if (key === "right") key = "word-right";
      else if (key === "delete") key = "delete-word-forward";
      else if (key === "up") key = "message-up";
      else if (key === "down") key = "message-down";
    }
    return {
      kind: "event",
      event: key ? { type: "key", key } : undefined,
      length,
    };
  }
}

/** Adds an event, merging runs of text into one. */
function appendEvent(events: KeyEvent[], event: KeyEvent): void {
  const last = events[events.length - 1];
  if (event.type === "text" && last?.type === "text") {
    last.text += event.text;
  } else {
    events.push(event);
  }
}

/** How many trailing characters of `text` begin `marker`. */
function partialSuffix(text: string, marker: string): number {
  for (let keep = Math.min(marker.length - 1, text.length); keep > 0; keep--) {
    if (marker.startsWith(text.slice(text.length - keep))) return keep;
  }
  return 0;
}
