/**
 * Line editing on the server for telnet clients in character mode, which
 * send every key as it is pressed and show only what the server echoes
 * (Windows telnet, PuTTY, `mode character`). Keys in, terminal output and
 * finished lines out; pure, no sockets.
 *
 * Backspace removes one whole character, a Chinese character or an emoji as
 * one, and erases the columns it took. Output that arrives while someone
 * types is printed above the line being typed, which is then drawn again
 * ({@linkcode CharLineEditor.hide} and {@linkcode CharLineEditor.show}).
 *
 * The same editor reads telnet clients in line mode, with echo off: they
 * send whole lines, which it ends at Enter however the client spells it.
 *
 * @module
 */

import { graphemes, graphemeWidth } from "../../../shared/text_width.ts";

/** What the editor makes of keys, in order. */
export interface CharLineSink {
  /** Text for the typist's terminal (only while echoing). */
  echo(text: string): void;
  /** Enter: the finished line. */
  line(text: string): void;
  /** Ctrl-C (the typed line is already cleared). */
  interrupt(): void;
  /** A line went over the byte limit without echo, and is dropped. */
  tooLong(): void;
}

/** Options for {@linkcode CharLineEditor}. */
export interface CharLineEditorOptions {
  /** The longest line kept, in UTF-8 bytes (the line limit of the protocol). */
  maxBytes: number;
  /** Terminal columns until the client tells (NAWS). @default {80} */
  width?: number;
}

const BELL = "\x07";
const CTRL_C = "\x03";
const BACKSPACE = "\b";
const DELETE = "\x7f";
const CTRL_U = "\x15";
const CTRL_W = "\x17";
const ESCAPE = "\x1b";
const CR = "\r";
const LF = "\n";
const NUL = "\0";
const encoder = new TextEncoder();

// Keys that insert nothing: controls (C0, DEL, C1) and the replacement
// character a broken byte sequence decodes to.
// deno-lint-ignore no-control-regex
const NOT_TYPED = /[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffd]/;

/** Reading an escape sequence (an arrow key, F1): it is skipped whole. */
type EscapeState = "none" | "escape" | "csi" | "ss3";

/**
 * One line being typed, and what the typist's screen shows of it.
 *
 * @example
 * ```ts
 * const out: string[] = [];
 * const sink = {
 *   echo: (t: string) => out.push(t),
 *   line: (t: string) => out.push(`line ${t}`),
 *   interrupt: () => {},
 *   tooLong: () => {},
 * };
 * const editor = new CharLineEditor({ maxBytes: 100 });
 * editor.echoing = true;
 * editor.feed("a中\x7f\r\0", sink);
 * out; // → ["a", "中", "\b\b  \b\b", "\r\n", "line a"]
 * ```
 */
export class CharLineEditor {
  #cells: string[] = [];
  #bytes = 0;
  #maxBytes: number;
  #width: number;
  #echoing = false;
  #secret = false;
  #afterCr = false;
  #escape: EscapeState = "none";
  /** A line without echo went over the limit: the rest is dropped. */
  #overflowed = false;

  constructor(options: CharLineEditorOptions) {
    this.#maxBytes = options.maxBytes;
    this.#width = options.width ?? 80;
  }

  /** The line typed so far. */
  get text(): string {
    return this.#cells.join("");
  }

  /** True while the server echoes keys (the client agreed to `WILL ECHO`). */
  get echoing(): boolean {
    return this.#echoing;
  }

  /** Turns echo on or off; call {@linkcode show} after turning it on. */
  set echoing(on: boolean) {
    this.#echoing = on;
  }

  /** True while keys are not shown (a password is being typed). */
  get secret(): boolean {
    return this.#secret;
  }

  /** Hides (or shows again) what is typed; the line is kept either way. */
  set secret(on: boolean) {
    this.#secret = on;
  }

  /** The terminal's width in columns (from NAWS); 0 or less is ignored. */
  set width(columns: number) {
    if (columns > 0) this.#width = columns;
  }

  /** Reads typed text (keys, already decoded); reports through `sink`. */
  feed(text: string, sink: CharLineSink): void {
    let run = "";
    const flush = () => {
      if (run !== "") this.#insert(run, sink);
      run = "";
    };
    for (const key of text) {
      if (this.#escape !== "none") {
        this.#skipEscape(key);
        continue;
      }
      const afterCr = this.#afterCr;
      this.#afterCr = false;
      if (!NOT_TYPED.test(key) || key === "\t") {
        run += key === "\t" ? " " : key;
        continue;
      }
      flush();
      switch (key) {
        case CR:
          this.#afterCr = true;
          this.#enter(sink);
          break;
        case LF:
        case NUL:
          // CR LF and CR NUL are one Enter; LF alone is one too.
          if (key === LF && !afterCr) this.#enter(sink);
          break;
        case BACKSPACE:
        case DELETE:
          this.#deleteBack(1, sink);
          break;
        case CTRL_U:
          this.#deleteBack(this.#cells.length, sink);
          break;
        case CTRL_W:
          this.#deleteBack(this.#cells.length - this.#wordStart(), sink);
          break;
        case CTRL_C:
          this.clear(sink);
          sink.interrupt();
          break;
        case ESCAPE:
          this.#escape = "escape";
          break;
      }
    }
    flush();
  }

  /** Throws the typed line away, and takes it off the screen. */
  clear(sink: CharLineSink): void {
    this.#deleteBack(this.#cells.length, sink);
    this.#overflowed = false;
  }

  /** Erase character (`IAC EC`): like Backspace. */
  eraseCharacter(sink: CharLineSink): void {
    this.#deleteBack(1, sink);
  }

  /**
   * What takes the shown line off the screen, leaving the cursor at the
   * start of its first row: the place for output to go. Empty when nothing
   * is shown.
   */
  hide(): string {
    const shown = this.#shown();
    if (shown.length === 0) return "";
    const { row } = this.#layout(shown);
    return row === 0 ? "\r\x1b[K" : `\r\x1b[${row}A\x1b[J`;
  }

  /** What draws the line again after {@linkcode hide} and some output. */
  show(): string {
    return this.#shown().join("");
  }

  /** True when {@linkcode hide} has anything to take off the screen. */
  get showing(): boolean {
    return this.#shown().length > 0;
  }

  #shown(): readonly string[] {
    return this.#echoing && !this.#secret ? this.#cells : [];
  }

  #insert(text: string, sink: CharLineSink): void {
    if (this.#overflowed) return;
    const bytes = encoder.encode(text).length;
    if (this.#bytes + bytes > this.#maxBytes) {
      if (this.#echoing) return sink.echo(BELL);
      this.#overflowed = true;
      this.#cells = [];
      this.#bytes = 0;
      return sink.tooLong();
    }
    // The character before joins in, so a combining mark or a skin tone
    // typed after its base becomes one character with it.
    const previous = this.#cells.pop() ?? "";
    const merged = graphemes(previous + text);
    this.#cells.push(...merged);
    this.#bytes += bytes;
    // The terminal joins a combining mark to its base itself: echo as typed.
    if (this.#echoing && !this.#secret) sink.echo(text);
  }

  #enter(sink: CharLineSink): void {
    const line = this.text;
    const overflowed = this.#overflowed;
    this.#cells = [];
    this.#bytes = 0;
    this.#overflowed = false;
    if (this.#echoing) sink.echo("\r\n");
    if (!overflowed) sink.line(line);
  }

  /** Removes the last `count` characters and erases their columns. */
  #deleteBack(count: number, sink: CharLineSink): void {
    if (count <= 0 || this.#cells.length === 0) return;
    const shown = this.#echoing && !this.#secret;
    const before = shown ? this.#layout(this.#cells) : undefined;
    const removed = this.#cells.splice(-count, count);
    this.#bytes -= encoder.encode(removed.join("")).length;
    if (before) {
      sink.echo(this.#erase(before, this.#cells.length, removed.some(joined)));
    }
  }

  /**
   * Output that takes the line from `before` (its layout) back to its first
   * `keep` characters: backspaces over a single row, else a redraw. A
   * character joined from several code points (👋🏽, a flag, 👩‍💻) is
   * redrawn too: terminals disagree on how many columns it took (tmux gives
   * 👋🏽 four), and backspacing by our count would leave half of it.
   */
  #erase(before: Layout, keep: number, uncertain: boolean): string {
    const after = this.#layout(this.#cells.slice(0, keep));
    if (
      !uncertain && after.row === before.row && before.column < this.#width
    ) {
      // The cursor is on the same row, and not parked past its last column
      // (where terminals differ on what Backspace does).
      const columns = before.column - after.column;
      return BACKSPACE.repeat(columns) + " ".repeat(columns) +
        BACKSPACE.repeat(columns);
    }
    const up = before.row > 0 ? `\x1b[${before.row}A` : "";
    return `\r${up}\x1b[J` + this.#cells.slice(0, keep).join("");
  }

  /** Where the cursor ends after drawing `cells` from the first column. */
  #layout(cells: readonly string[]): Layout {
    let row = 0;
    let column = 0;
    for (const cell of cells) {
      const width = graphemeWidth(cell);
      // A character that does not fit goes to the next row whole, as
      // terminals do (a wide one leaves the last column empty).
      if (column + width > this.#width && column > 0) {
        row++;
        column = 0;
      }
      column += width;
    }
    return { row, column };
  }

  /** Where the word before the end starts (spaces before it go with it). */
  #wordStart(): number {
    let index = this.#cells.length;
    while (index > 0 && this.#cells[index - 1] === " ") index--;
    while (index > 0 && this.#cells[index - 1] !== " ") index--;
    return index;
  }

  #skipEscape(key: string): void {
    const code = key.charCodeAt(0);
    switch (this.#escape) {
      case "escape":
        this.#escape = key === "[" ? "csi" : key === "O" ? "ss3" : "none";
        return;
      case "csi":
        // Parameters and intermediates until a final byte (@ to ~).
        if (code >= 0x40 && code <= 0x7e) this.#escape = "none";
        return;
      case "ss3":
        this.#escape = "none";
        return;
    }
  }
}

/** True for a character made of more than one code point. */
function joined(cell: string): boolean {
  const first = cell.codePointAt(0) ?? 0;
  return cell.length > (first > 0xffff ? 2 : 1);
}

interface Layout {
  /** The row the cursor is on, from 0. */
  row: number;
  /** Its column: the columns used on that row (may equal the width). */
  column: number;
}
