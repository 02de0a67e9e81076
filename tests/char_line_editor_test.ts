/**
 * The server-side line editor for telnet's character mode: what it echoes,
 * which lines it hands on, and how it takes the line off the screen and puts
 * it back around other output.
 */

import assert from "node:assert/strict";
import { CharLineEditor } from "../src/server/doors/telnet/char_line_editor.ts";

function editor(
  options: { echo?: boolean; width?: number; maxBytes?: number } = {},
) {
  const echo: string[] = [];
  const lines: string[] = [];
  let interrupts = 0;
  let tooLong = 0;
  const e = new CharLineEditor({
    maxBytes: options.maxBytes ?? 1000,
    width: options.width,
  });
  e.echoing = options.echo ?? true;
  const sink = {
    echo: (text: string) => echo.push(text),
    line: (text: string) => lines.push(text),
    interrupt: () => interrupts++,
    tooLong: () => tooLong++,
  };
  return {
    e,
    echo,
    lines,
    feed: (text: string) => e.feed(text, sink),
    counts: () => ({ interrupts, tooLong }),
    screen: () => echo.join(""),
  };
}

Deno.test("what is typed is echoed, and Enter hands on the line however the client spells it", () => {
  for (const enter of ["\r", "\r\n", "\r\0", "\n"]) {
    const t = editor();
    t.feed(`bob${enter}hi${enter}`);
    assert.deepEqual(t.lines, ["bob", "hi"], JSON.stringify(enter));
    assert.equal(t.screen(), "bob\r\nhi\r\n");
  }
  // Keys one read each: CR and its NUL in separate reads are still one Enter.
  const t = editor();
  for (const key of ["a", "\r", "\0", "b", "\r", "\n"]) t.feed(key);
  assert.deepEqual(t.lines, ["a", "b"]);
});

Deno.test("Backspace over 中 removes the whole character and erases both its columns", () => {
  for (const key of ["\x7f", "\b"]) {
    const t = editor();
    t.feed("bo中");
    t.feed(key);
    assert.equal(t.echo.at(-1), "\b\b  \b\b");
    t.feed("b\r");
    assert.deepEqual(t.lines, ["bob"]);
  }
  const t = editor();
  t.feed("hi👋");
  t.feed("\x7f");
  assert.equal(t.echo.at(-1), "\b\b  \b\b", "an emoji is one character");
  t.feed("👋🏽");
  t.feed("\x7f");
  assert.equal(
    t.echo.at(-1),
    "\r\x1b[Jhi",
    "an emoji with its skin tone is one character, and the line is redrawn: " +
      "terminals disagree on its width",
  );
  assert.equal(t.e.text, "hi");
  t.feed("\x7f");
  assert.equal(t.echo.at(-1), "\b \b");
  assert.equal(t.e.text, "h");
  t.feed("\x7f\x7f\x7f"); // past the start: nothing more to erase
  assert.equal(t.echo.length, 6);
});

Deno.test("Ctrl-U clears the line, Ctrl-W the word before the cursor", () => {
  const t = editor();
  t.feed("你好 big world  ");
  t.feed("\x17");
  assert.equal(t.e.text, "你好 big ");
  assert.equal(t.echo.at(-1), "\b".repeat(7) + " ".repeat(7) + "\b".repeat(7));
  t.feed("\x15");
  assert.equal(t.e.text, "");
  const columns = 2 + 2 + 1 + 3 + 1; // 你好 big
  assert.equal(
    t.echo.at(-1),
    "\b".repeat(columns) + " ".repeat(columns) + "\b".repeat(columns),
  );
  t.feed("again\r");
  assert.deepEqual(t.lines, ["again"]);
});

Deno.test("Ctrl-C clears the line and reports the interrupt; arrow keys and other controls insert nothing", () => {
  const t = editor();
  t.feed("half");
  t.feed("\x03");
  assert.equal(t.e.text, "");
  assert.equal(t.counts().interrupts, 1);
  t.feed("a\x1b[D\x1b[1;5Cb\x1bOPc\x07\x01d\te\r");
  assert.deepEqual(t.lines, ["abcd e"]);
});

Deno.test("without echo (line mode) nothing is echoed, and lines still end at Enter", () => {
  const t = editor({ echo: false });
  t.feed("hello\r\nwor");
  t.feed("ld\r\n");
  assert.deepEqual(t.lines, ["hello", "world"]);
  assert.deepEqual(t.echo, []);
  assert.equal(t.e.hide(), "");
  assert.equal(t.e.show(), "");
});

Deno.test("output is printed above the half-typed line, which is drawn again after it", () => {
  const t = editor();
  t.feed("半句话 half");
  assert.equal(t.e.hide(), "\r\x1b[K");
  assert.equal(t.e.show(), "半句话 half");
  t.feed("\r");
  assert.equal(t.e.showing, false, "nothing to take off an empty line");
  assert.equal(t.e.hide(), "");
});

Deno.test("a line longer than the window (NAWS) is erased across its rows, and Backspace at a row's start redraws", () => {
  const t = editor({ width: 10 });
  t.feed("0123456789abc"); // row 0 full, "abc" on row 1
  assert.equal(t.e.hide(), "\r\x1b[1A\x1b[J");
  t.feed("\x7f\x7f\x7f");
  // The last Backspace crossed back to row 0 (parked past its last column).
  assert.equal(t.echo.at(-1), "\r\x1b[1A\x1b[J0123456789");
  t.feed("\x7f");
  assert.equal(
    t.echo.at(-1),
    "\r\x1b[J012345678",
    "from the parked cursor, a redraw",
  );
  // A wide character that does not fit the last column goes to the next row.
  const w = editor({ width: 5 });
  w.feed("abcd中");
  assert.equal(w.e.hide(), "\r\x1b[1A\x1b[J");
  w.e.width = 80;
  assert.equal(w.e.hide(), "\r\x1b[K");
});

Deno.test("a line over the byte limit: bell with echo, dropped with an error without", () => {
  const t = editor({ maxBytes: 6 });
  t.feed("你好");
  t.feed("x");
  assert.equal(t.echo.at(-1), "\x07");
  t.feed("\r");
  assert.deepEqual(t.lines, ["你好"]);
  const quiet = editor({ echo: false, maxBytes: 6 });
  quiet.feed("1234567890\r\nok\r\n");
  assert.deepEqual(quiet.lines, ["ok"]);
  assert.equal(quiet.counts().tooLong, 1);
});

Deno.test("a password is read without being shown", () => {
  const t = editor();
  t.e.secret = true;
  t.feed("s3cret\x7f\x7ft\r");
  assert.deepEqual(t.lines, ["s3crt"]);
  assert.deepEqual(t.echo, ["\r\n"]);
});
