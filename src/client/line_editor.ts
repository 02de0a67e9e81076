/**
 * The input line as data: key events in; buffer, cursor, history and
 * completion out. Pure: it knows nothing of terminals or sockets, so every
 * editing rule is tested by feeding it keys.
 *
 * The buffer is a list of grapheme clusters, so the cursor never stops inside
 * `é`, `👋🏽` or a flag, and Backspace removes what the user sees as one
 * character.
 *
 * @module
 */

import type { KeyEvent } from "./key_decoder.ts";
import { CONNECT_DEFAULTS } from "../shared/limits.ts";
import { graphemes, graphemeWidth } from "../shared/text_width.ts";

/** What the editor asks of its owner after a key. */
export type EditorAction =
  /** Nothing changed. */
  | { type: "none" }
  /** The input line changed: draw it again. `full` when input was refused for length. */
  | { type: "changed"; full?: boolean }
  /** Messages to send, in order (Enter); one may hold `\n`. */
  | { type: "submit"; lines: string[] }
  /** Redraw the whole screen (Ctrl-L). */
  | { type: "redraw" }
  /** Leave (Ctrl-C, or Ctrl-D on an empty line). */
  | { type: "quit" };

/** What Tab can complete. */
export interface CompletionSource {
  /** Nicknames, completed at line start as `nick: ` and elsewhere as `nick `. */
  nicks: readonly string[];
  /** Command names with their slash, completed at line start. */
  commands: readonly string[];
}

/** Options for {@linkcode LineEditor}. */
export interface LineEditorOptions {
  /** Longest input in characters. @default {4100} */
  maxChars?: number;
  /** Sent lines kept for up/down. @default {500} */
  historyLines?: number;
  /** What Tab completes from; asked at each Tab. */
  completions?: () => CompletionSource;
  /**
   * Whether a sent line is kept for up/down: not one that holds a password.
   * @default {every line}
   */
  keepInHistory?: (line: string) => boolean;
}

interface CompletionCycle {
  start: number;
  matches: string[];
  index: number;
  suffix: string;
}

const NO_COMPLETIONS: CompletionSource = { nicks: [], commands: [] };

// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

const CONTROLS_BUT_NEWLINE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** Tabs become spaces; other control characters are dropped. */
function cleanInput(text: string): string {
  return text.replaceAll("\t", " ").replace(CONTROLS, "");
}

/** The same, but line breaks stay (`\r\n` and `\r` become `\n`). */
function cleanMultiline(text: string): string {
  return text.replaceAll("\r\n", "\n").replaceAll("\r", "\n")
    .replaceAll("\t", " ").replace(CONTROLS_BUT_NEWLINE, "");
}

function isSpace(cell: string): boolean {
  return cell === " ";
}

/**
 * A single-line editor with readline-style keys.
 *
 * @example
 * ```ts
 * const editor = new LineEditor();
 * editor.handle({ type: "text", text: "你好" });
 * editor.handle({ type: "key", key: "left" });
 * editor.cursorColumn; // → 2
 * editor.handle({ type: "key", key: "enter" }); // → { type: "submit", lines: ["你好"] }
 * ```
 */
export class LineEditor {
  #cells: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  #historyIndex = 0;
  #draft = "";
  #killed = "";
  #cycle: CompletionCycle | undefined;
  #maxChars: number;
  #historyLines: number;
  #completions: () => CompletionSource;
  #keepInHistory: (line: string) => boolean;

  /** Creates an empty editor. */
  constructor(options: LineEditorOptions = {}) {
    this.#maxChars = options.maxChars ?? CONNECT_DEFAULTS.maxInputChars;
    this.#historyLines = options.historyLines ??
      CONNECT_DEFAULTS.inputHistoryLines;
    this.#completions = options.completions ?? (() => NO_COMPLETIONS);
    this.#keepInHistory = options.keepInHistory ?? (() => true);
  }

  /** The text typed so far. */
  get text(): string {
    return this.#cells.join("");
  }

  /** The text as grapheme clusters. */
  get cells(): readonly string[] {
    return this.#cells;
  }

  /** The cursor, as an index into {@linkcode LineEditor.cells}. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Columns between the start of the text and the cursor. */
  get cursorColumn(): number {
    let width = 0;
    for (let i = 0; i < this.#cursor; i++) {
      width += graphemeWidth(this.#cells[i]);
    }
    return width;
  }

  /** The sent lines, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Replaces the text (line breaks kept) and puts the cursor at its end. */
  setText(text: string): void {
    this.#cells = graphemes(cleanMultiline(text));
    this.#cursor = this.#cells.length;
    this.#cycle = undefined;
  }

  /** Applies one key event. */
  handle(event: KeyEvent): EditorAction {
    const cycle = this.#cycle;
    this.#cycle = undefined;
    if (event.type === "text") return this.#insert(event.text);
    if (event.type === "paste") return this.#paste(event.text);
    if (event.type === "cursor") return { type: "none" };
    switch (event.key) {
      case "enter":
        return this.#submit();
      case "newline":
        return this.#insert("\n", true);
      case "tab":
        return this.#complete(cycle);
      case "left":
      case "ctrl-b":
        return this.#moveTo(this.#cursor - 1);
      case "right":
      case "ctrl-f":
        return this.#moveTo(this.#cursor + 1);
      case "home":
      case "ctrl-a":
        return this.#moveTo(0);
      case "end":
      case "ctrl-e":
        return this.#moveTo(this.#cells.length);
      case "word-left":
        return this.#moveTo(this.#wordStart(this.#cursor));
      case "word-right":
        return this.#moveTo(this.#wordEnd(this.#cursor));
      case "backspace":
        return this.#delete(this.#cursor - 1, this.#cursor);
      case "delete":
        return this.#delete(this.#cursor, this.#cursor + 1);
      case "ctrl-d":
        if (this.#cells.length === 0) return { type: "quit" };
        return this.#delete(this.#cursor, this.#cursor + 1);
      case "ctrl-w":
      case "delete-word-back":
        return this.#kill(this.#wordStart(this.#cursor), this.#cursor);
      case "delete-word-forward":
        return this.#kill(this.#cursor, this.#wordEnd(this.#cursor));
      case "ctrl-u":
        return this.#kill(0, this.#cursor);
      case "ctrl-k":
        return this.#kill(this.#cursor, this.#cells.length);
      case "ctrl-y":
        return this.#killed === "" ? { type: "none" } : this.#insert(
          this.#killed,
        );
      case "up":
      case "ctrl-p":
        return this.#recall(this.#historyIndex - 1);
      case "down":
      case "ctrl-n":
        return this.#recall(this.#historyIndex + 1);
      case "ctrl-l":
        return { type: "redraw" };
      case "ctrl-c":
        return { type: "quit" };
      default:
        return { type: "none" };
    }
  }

  #insert(raw: string, multiline = false): EditorAction {
    let text = multiline ? cleanMultiline(raw) : cleanInput(raw);
    if (text === "") return { type: "none" };
    const room = this.#maxChars - [...this.text].length;
    let full = false;
    if ([...text].length > room) {
      full = true;
      text = [...text].slice(0, Math.max(0, room)).join("");
      if (text === "") return { type: "changed", full };
    }
    const before = this.#cells.slice(0, this.#cursor);
    const after = this.#cells.slice(this.#cursor);
    // The character before the cursor takes part, so a combining mark or a
    // skin tone typed after its base joins it.
    const previous = before.pop() ?? "";
    const merged = graphemes(previous + text);
    this.#cells = [...before, ...merged, ...after];
    this.#cursor = before.length + merged.length;
    return full ? { type: "changed", full } : { type: "changed" };
  }

  /**
   * A paste goes into the input line whole, line breaks kept, to be sent as
   * one message with Enter: thirty pasted lines are one message, not thirty
   * that bury the room, and a paste too long to send stays to be cut down.
   */
  #paste(raw: string): EditorAction {
    return this.#insert(raw.replace(/[\r\n]+$/, ""), true);
  }

  #submit(): EditorAction {
    const line = this.text;
    this.#cells = [];
    this.#cursor = 0;
    if (line.trim() === "") {
      this.#historyIndex = this.#history.length;
      return { type: "changed" };
    }
    this.#remember(line);
    return { type: "submit", lines: [line] };
  }

  #remember(line: string): void {
    if (
      this.#keepInHistory(line) &&
      this.#history[this.#history.length - 1] !== line
    ) {
      this.#history.push(line);
      if (this.#history.length > this.#historyLines) this.#history.shift();
    }
    this.#historyIndex = this.#history.length;
    this.#draft = "";
  }

  #recall(index: number): EditorAction {
    if (index < 0 || index > this.#history.length) return { type: "none" };
    if (this.#historyIndex === this.#history.length) this.#draft = this.text;
    this.#historyIndex = index;
    this.setText(
      index === this.#history.length ? this.#draft : this.#history[index],
    );
    return { type: "changed" };
  }

  #moveTo(position: number): EditorAction {
    const clamped = Math.max(0, Math.min(this.#cells.length, position));
    if (clamped === this.#cursor) return { type: "none" };
    this.#cursor = clamped;
    return { type: "changed" };
  }

  #delete(from: number, to: number): EditorAction {
    const start = Math.max(0, from);
    const end = Math.min(this.#cells.length, to);
    if (start >= end) return { type: "none" };
    this.#cells.splice(start, end - start);
    this.#cursor = start;
    return { type: "changed" };
  }

  #kill(from: number, to: number): EditorAction {
    if (from >= to) return { type: "none" };
    this.#killed = this.#cells.slice(from, to).join("");
    return this.#delete(from, to);
  }

  /** Start of the word before `position` (spaces before it included). */
  #wordStart(position: number): number {
    let i = position;
    while (i > 0 && isSpace(this.#cells[i - 1])) i--;
    while (i > 0 && !isSpace(this.#cells[i - 1])) i--;
    return i;
  }

  /** End of the word after `position`. */
  #wordEnd(position: number): number {
    let i = position;
    while (i < this.#cells.length && isSpace(this.#cells[i])) i++;
    while (i < this.#cells.length && !isSpace(this.#cells[i])) i++;
    return i;
  }

  #complete(previous: CompletionCycle | undefined): EditorAction {
    let cycle = previous;
    if (cycle) {
      cycle = { ...cycle, index: (cycle.index + 1) % cycle.matches.length };
    } else {
      let start = this.#cursor;
      while (start > 0 && !isSpace(this.#cells[start - 1])) start--;
      const word = this.#cells.slice(start, this.#cursor).join("");
      if (word === "") return { type: "none" };
      const source = this.#completions();
      const isCommand = start === 0 && word.startsWith("/");
      // `@al` completes to `@alice `: a mention, anywhere in the line.
      const isMention = !isCommand && word.startsWith("@");
      const candidates = isCommand
        ? source.commands
        : isMention
        ? source.nicks.map((nick) => "@" + nick)
        : source.nicks;
      const prefix = word.toLowerCase();
      const matches = [...new Set(candidates)]
        .filter((c) => c.toLowerCase().startsWith(prefix))
        .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
      if (matches.length === 0) return { type: "none" };
      const suffix = isCommand || isMention || start > 0 ? " " : ": ";
      cycle = { start, matches, index: 0, suffix };
    }
    const inserted = graphemes(cycle.matches[cycle.index] + cycle.suffix);
    this.#cells.splice(cycle.start, this.#cursor - cycle.start, ...inserted);
    this.#cursor = cycle.start + inserted.length;
    // Only a single match is final; with several, the next Tab moves on.
    this.#cycle = cycle.matches.length > 1 ? cycle : undefined;
    return { type: "changed" };
  }
}
