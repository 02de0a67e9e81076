/**
 * The terminal client's screen as data: the conversation scrolls in the top
 * rows, a status line sits above the input line at the bottom. Every method
 * returns the bytes (as a string) that bring the terminal up to date; the
 * caller writes them. Pure, so tests read the escape sequences directly.
 *
 * Layout: rows `1..rows-2` are a scroll region (DECSTBM) for messages, so a
 * new message scrolls only them; the status line and the input line are
 * outside it and never move. While a reply is being written, a bar above
 * the input line says what it answers (the region gives up a row for it).
 * After every update the cursor goes back to its place in the input line,
 * so typing is never disturbed.
 *
 * A message marked for a reply ({@linkcode Screen.mark}) is drawn in reverse
 * video, and the view scrolls back to keep it in sight.
 *
 * @module
 */

import { CONNECT_DEFAULTS } from "../shared/limits.ts";
import {
  type Line,
  safeText,
  type Span,
  type Style,
} from "./terminal_render.ts";
import {
  fitWidth,
  graphemes,
  graphemeWidth,
  textWidth,
} from "../shared/text_width.ts";

const CSI = "\x1b[";
const HIDE_CURSOR = `${CSI}?25l`;
const SHOW_CURSOR = `${CSI}?25h`;
const RESET = `${CSI}0m`;
const CLEAR_LINE = `${CSI}2K`;
/** Rows shown below a message marked for a reply, when scrolled back to it. */
const MARK_CONTEXT_ROWS = 2;

/** Moves the cursor to a 1-based row and column. */
function moveTo(row: number, column: number): string {
  return `${CSI}${row};${column}H`;
}

/** The SGR sequence for a style; empty for no style. */
export function sgr(style: Style | undefined, colour: boolean): string {
  if (!style) return "";
  const codes: string[] = [];
  if (style.bold) codes.push("1");
  if (style.dim) codes.push("2");
  if (style.underline) codes.push("4");
  if (style.reverse) codes.push("7");
  if (colour && style.colour !== undefined) codes.push(String(style.colour));
  return codes.length === 0 ? "" : `${CSI}0;${codes.join(";")}m`;
}

interface Cell {
  text: string;
  width: number;
  style: string;
}

function toCells(spans: readonly Span[], colour: boolean): Cell[] {
  const cells: Cell[] = [];
  for (const span of spans) {
    const style = sgr(span.style, colour);
    for (const text of graphemes(safeText(span.text))) {
      cells.push({ text, width: graphemeWidth(text), style });
    }
  }
  return cells;
}

function cellsToString(cells: readonly Cell[]): string {
  let out = "";
  let current = "";
  for (const cell of cells) {
    if (cell.style !== current) {
      out += cell.style === "" ? RESET : cell.style;
      current = cell.style;
    }
    out += cell.text;
  }
  return current === "" ? out : out + RESET;
}

/**
 * Wraps a line into rows of at most `columns` columns, breaking after a
 * space where there is one, never inside a wide character; rows after the
 * first are indented by `line.indent`.
 *
 * @example
 * ```ts
 * layoutLine({ spans: [{ text: "12:00 bob: 你好世界" }], indent: 6 }, 12, false);
 * // → ["12:00 bob: ", "      你好世", "      界"]
 * ```
 */
export function layoutLine(
  line: Line,
  columns: number,
  colour: boolean,
): string[] {
  const cells = toCells(line.spans, colour);
  const indent = line.indent * 2 <= columns ? line.indent : 0;
  const indentCells: Cell[] = Array.from(
    { length: indent },
    () => ({ text: " ", width: 1, style: "" }),
  );
  const rows: string[] = [];
  let row: Cell[] = [];
  let width = 0;
  let rowStart = 0; // cells before this index are the indent
  for (const cell of cells) {
    if (width + cell.width > columns && row.length > rowStart) {
      let carry: Cell[] = [];
      const space = row.findLastIndex((c) => c.text === " ");
      if (space > rowStart) {
        const tail = row.slice(space + 1);
        const tailWidth = tail.reduce((sum, c) => sum + c.width, 0);
        // Move an unfinished word down if it fits there; CJK text (wide
        // characters) breaks anywhere, as it has no spaces to break at.
        const isWord = tail.every((c) => c.width === 1);
        if (isWord && indent + tailWidth + cell.width <= columns) {
          carry = tail;
          row = row.slice(0, space + 1);
        }
      }
      rows.push(cellsToString(row));
      row = [...indentCells, ...carry];
      rowStart = indent;
      width = indent + carry.reduce((sum, c) => sum + c.width, 0);
      // A space at the break is not carried to the start of the next row.
      if (cell.text === " " && row.length === rowStart) continue;
    }
    row.push(cell);
    width += cell.width;
  }
  rows.push(cellsToString(row));
  return rows;
}

/**
 * The visible part of the input: which cells fit in `width` columns so that
 * the cursor is on screen, and the cursor's column within them.
 */
export function inputWindow(
  cells: readonly string[],
  cursor: number,
  scroll: number,
  width: number,
): { start: number; end: number; cursorColumn: number } {
  const widthOf = (from: number, to: number) => {
    let sum = 0;
    for (let i = from; i < to; i++) sum += graphemeWidth(cells[i]);
    return sum;
  };
  const available = Math.max(1, width);
  let start = Math.min(scroll, cursor);
  const cursorCell = cursor < cells.length
    ? Math.max(1, graphemeWidth(cells[cursor]))
    : 1;
  // Widths are kept as running sums: a 10,000-character paste in the input
  // line must not cost a quadratic walk on every key.
  let before = widthOf(start, cursor);
  while (start < cursor && before + cursorCell > available) {
    before -= graphemeWidth(cells[start]);
    start++;
  }
  // Use free room on the right to show more of the text on the left.
  const tail = cursor === cells.length ? 1 : 0;
  let shown = before + widthOf(cursor, cells.length);
  while (
    start > 0 && shown + graphemeWidth(cells[start - 1]) + tail <= available
  ) {
    shown += graphemeWidth(cells[start - 1]);
    start--;
  }
  let end = start;
  let used = 0;
  while (end < cells.length && used + graphemeWidth(cells[end]) <= available) {
    used += graphemeWidth(cells[end]);
    end++;
  }
  return { start, end, cursorColumn: widthOf(start, cursor) };
}

/** What the input line shows. */
export interface InputView {
  /** `[lobby] alice> ` */
  prompt: string;
  cells: readonly string[];
  cursor: number;
}

/** Options for {@linkcode Screen}. */
export interface ScreenOptions {
  columns: number;
  rows: number;
  /** Use colours (off for NO_COLOR). Bold, dim and reverse stay. */
  colour: boolean;
  /** Lines kept for redraws. @default {2000} */
  scrollbackLines?: number;
}

/** The screen: conversation, status line, input line. */
export class Screen {
  #columns: number;
  #rows: number;
  #colour: boolean;
  #scrollbackLines: number;
  #log: Line[] = [];
  /** Rows of the message area holding text (they fill from the top). */
  #filled = 0;
  #status: Line = { spans: [], indent: 0 };
  /** The reply bar above the input line, while a reply is being written. */
  #bar: Line | undefined;
  /** The message marked for a reply: drawn reversed, kept in sight. */
  #marked: number | undefined;
  #input: InputView = { prompt: "", cells: [], cursor: 0 };
  #inputScroll = 0;
  #cursorColumn = 1;

  /** Creates a screen; nothing is drawn until {@linkcode Screen.enter}. */
  constructor(options: ScreenOptions) {
    this.#columns = Math.max(1, options.columns);
    this.#rows = Math.max(1, options.rows);
    this.#colour = options.colour;
    this.#scrollbackLines = options.scrollbackLines ??
      CONNECT_DEFAULTS.scrollbackLines;
  }

  /** Terminal width in columns. */
  get columns(): number {
    return this.#columns;
  }

  /** Terminal height in rows. */
  get rows(): number {
    return this.#rows;
  }

  /** Lines in the conversation, for tests and redraws. */
  get lineCount(): number {
    return this.#log.length;
  }

  get #messageRows(): number {
    return Math.max(0, this.#rows - 2 - (this.#bar ? 1 : 0));
  }

  /** The status line's row: above the input line, and the bar if shown. */
  get #statusRow(): number {
    return this.#rows - 1 - (this.#bar && this.#rows >= 3 ? 1 : 0);
  }

  /** Switches to the alternate screen with bracketed paste, and draws. */
  enter(): string {
    return `${CSI}?1049h${CSI}?2004h` + this.redraw();
  }

  /** Restores the terminal as it was: main screen, no paste mode, cursor on. */
  leave(): string {
    return `${CSI}?2004l${CSI}r${RESET}${CLEAR_LINE}${CSI}?1049l${SHOW_CURSOR}`;
  }

  /** Adopts a new terminal size and redraws everything. */
  resize(columns: number, rows: number): string {
    this.#columns = Math.max(1, columns);
    this.#rows = Math.max(1, rows);
    return this.redraw();
  }

  /** Draws everything from scratch (Ctrl-L, resize). */
  redraw(): string {
    const height = this.#messageRows;
    let out = HIDE_CURSOR + RESET +
      (height > 0 ? `${CSI}1;${height}r` : `${CSI}r`) + `${CSI}2J`;
    const rows = this.#lastRows(height);
    rows.forEach((row, i) => out += moveTo(i + 1, 1) + row);
    this.#filled = rows.length;
    return out + this.#drawStatus() + this.#drawBar() + this.#drawInput() +
      SHOW_CURSOR;
  }

  /**
   * Marks message `id` for a reply (reverse video, scrolled into sight),
   * or clears the mark with `undefined`.
   */
  mark(id: number | undefined): string {
    if (id === this.#marked) return "";
    this.#marked = id;
    return this.redraw();
  }

  /** Shows the reply bar above the input line, or takes it away. */
  setBar(bar: Line | undefined): string {
    const rowsChange = (bar === undefined) !== (this.#bar === undefined);
    this.#bar = bar;
    if (rowsChange) return this.redraw();
    return HIDE_CURSOR + this.#drawBar() + this.#cursorHome() + SHOW_CURSOR;
  }

  /**
   * Rewrites the conversation kept (a recalled message taken off); redraws
   * when `change` returns new lines, else returns `undefined`.
   */
  rewrite(
    change: (lines: readonly Line[]) => Line[] | undefined,
  ): string | undefined {
    const lines = change(this.#log);
    if (lines === undefined) return undefined;
    this.#log = lines;
    return this.redraw();
  }

  /** Forgets the conversation and clears the message area (`/clear`). */
  clear(): string {
    this.#log = [];
    return this.redraw();
  }

  /** Adds lines to the conversation; they scroll in above the status line. */
  addLines(lines: readonly Line[]): string {
    if (lines.length === 0) return "";
    this.#log.push(...lines);
    if (this.#log.length > this.#scrollbackLines) {
      this.#log.splice(0, this.#log.length - this.#scrollbackLines);
    }
    const height = this.#messageRows;
    if (height === 0) return "";
    // A message marked for a reply stays in sight: the view is drawn anew.
    if (this.#marked !== undefined) return this.redraw();
    const rows = lines.flatMap((line) => this.#layout(line));
    if (rows.length >= height) return this.redraw();
    let out = HIDE_CURSOR;
    let next = 0;
    while (this.#filled < height && next < rows.length) {
      out += moveTo(++this.#filled, 1) + rows[next++];
    }
    const rest = rows.length - next;
    if (rest > 0) {
      // A line feed on the region's bottom row scrolls the region alone.
      out += moveTo(height, 1) + "\n".repeat(rest);
      for (let i = 0; i < rest; i++) {
        out += moveTo(height - rest + 1 + i, 1) + rows[next + i];
      }
    }
    return out + this.#cursorHome() + SHOW_CURSOR;
  }

  /** Replaces the status line. */
  setStatus(status: Line): string {
    this.#status = status;
    return HIDE_CURSOR + this.#drawStatus() + this.#cursorHome() + SHOW_CURSOR;
  }

  /** Replaces the input line (prompt, text, cursor). */
  setInput(input: InputView): string {
    this.#input = input;
    return HIDE_CURSOR + this.#drawInput() + SHOW_CURSOR;
  }

  /** A line's rows at today's width, reversed when it shows the marked message. */
  #layout(line: Line): string[] {
    if (this.#marked === undefined || line.message?.id !== this.#marked) {
      return layoutLine(line, this.#columns, this.#colour);
    }
    const spans = line.spans.map((span) => ({
      ...span,
      style: { ...span.style, reverse: true },
    }));
    return layoutLine({ ...line, spans }, this.#columns, this.#colour);
  }

  /**
   * The rows the message area shows: the last `height` of the conversation,
   * or, when the marked message is above them, a window that ends a couple
   * of rows below it (or starts at it, if it is taller than the window).
   */
  #lastRows(height: number): string[] {
    const rows: string[] = [];
    // The marked message's last and first rows, counted from the end (1 is
    // the last row); 0 while not found.
    let bottom = 0;
    let top = 0;
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const line = this.#log[i];
      const marked = this.#marked !== undefined &&
        line.message?.id === this.#marked;
      const settled = top > 0 || this.#marked === undefined;
      if (!marked && settled && rows.length >= top + height) break;
      const laid = this.#layout(line);
      rows.unshift(...laid);
      if (marked) {
        bottom ||= rows.length - laid.length + 1;
        top = rows.length;
      }
    }
    let end = 1; // the window's last row, from the end
    if (top > height) {
      end = Math.max(1, bottom - MARK_CONTEXT_ROWS);
      if (top > end + height - 1) end = top - height + 1;
    }
    const count = rows.length;
    return rows.slice(Math.max(0, count - end - height + 1), count - end + 1);
  }

  #drawBar(): string {
    if (!this.#bar || this.#rows < 3) return "";
    const text = fitWidth(
      this.#bar.spans.map((s) => safeText(s.text)).join(""),
      this.#columns,
    );
    return moveTo(this.#rows - 1, 1) + RESET + CLEAR_LINE +
      sgr({ bold: true }, this.#colour) + text.text + RESET;
  }

  #drawStatus(): string {
    if (this.#rows < 2) return "";
    const text = fitWidth(
      this.#status.spans.map((s) => safeText(s.text)).join(""),
      this.#columns,
    );
    const style = sgr({ reverse: true }, this.#colour);
    return moveTo(this.#statusRow, 1) + style + text.text +
      " ".repeat(this.#columns - text.width) + RESET;
  }

  #drawInput(): string {
    let prompt = safeText(this.#input.prompt);
    // Keep at least half the line for typing; room and nick are in the status line.
    if (textWidth(prompt) * 2 > this.#columns) prompt = "> ";
    if (textWidth(prompt) >= this.#columns) prompt = "";
    const promptWidth = textWidth(prompt);
    // The last column stays free so a cursor after the text never wraps.
    const width = Math.max(1, this.#columns - promptWidth - 1);
    // A line break being typed shows as ↵: the input stays one row.
    const cells = this.#input.cells.map((cell) =>
      cell === "\n" ? "↵" : safeText(cell)
    );
    const view = inputWindow(
      cells,
      this.#input.cursor,
      this.#inputScroll,
      width,
    );
    this.#inputScroll = view.start;
    this.#cursorColumn = promptWidth + view.cursorColumn + 1;
    return moveTo(this.#rows, 1) + RESET + CLEAR_LINE +
      sgr({ bold: true }, this.#colour) + prompt + RESET +
      cells.slice(view.start, view.end).join("") + this.#cursorHome();
  }

  #cursorHome(): string {
    return moveTo(this.#rows, this.#cursorColumn);
  }
}
