/**
 * The line editor as a pure function: keys in; buffer, cursor column,
 * history and completion out. Includes the key decoder that feeds it.
 */

import assert from "node:assert/strict";
import {
  KeyDecoder,
  type KeyEvent,
  type KeyName,
} from "../src/client/key_decoder.ts";
import { type EditorAction, LineEditor } from "../src/client/line_editor.ts";
import {
  emojiWidthsFromProbes,
  graphemes,
  MODERN_EMOJI_WIDTHS,
  setEmojiWidths,
  textWidth,
} from "../src/shared/text_width.ts";

const text = (t: string): KeyEvent => ({ type: "text", text: t });
const key = (k: KeyName): KeyEvent => ({ type: "key", key: k });

function type(editor: LineEditor, ...events: KeyEvent[]): EditorAction {
  let last: EditorAction = { type: "none" };
  for (const event of events) last = editor.handle(event);
  return last;
}

const encoder = new TextEncoder();

Deno.test("typing inserts at the cursor and moves it", () => {
  const editor = new LineEditor();
  type(editor, text("helo"), key("left"), text("l"));
  assert.equal(editor.text, "hello");
  assert.equal(editor.cursor, 4);
  assert.equal(editor.cursorColumn, 4);
});

Deno.test("the cursor column counts Chinese characters and emoji as two columns", () => {
  const editor = new LineEditor();
  type(editor, text("你好，世界 👋"));
  assert.equal(editor.cells.length, 7);
  assert.equal(editor.cursorColumn, 13);
  type(editor, key("left"));
  assert.equal(editor.cursorColumn, 11, "left over 👋 moves two columns");
  type(editor, key("left"), key("left"));
  assert.equal(editor.cursorColumn, 8, "left over space and 界");
  type(editor, key("backspace"));
  assert.equal(editor.text, "你好，界 👋");
  assert.equal(editor.cursorColumn, 6);
  type(editor, key("delete"));
  assert.equal(editor.text, "你好， 👋");
  type(editor, key("home"));
  assert.equal(editor.cursorColumn, 0);
  type(editor, key("end"));
  assert.equal(editor.cursorColumn, textWidth("你好， 👋"));
});

Deno.test("a combining mark or skin tone typed after its base joins it", () => {
  const editor = new LineEditor();
  type(editor, text("e"), text("\u0301"), text("👋"), text("\u{1F3FD}"));
  assert.deepEqual([...editor.cells], ["e\u0301", "👋\u{1F3FD}"]);
  assert.equal(editor.cursorColumn, 3);
  type(editor, key("backspace"));
  assert.equal(editor.text, "e\u0301", "one backspace removes the whole emoji");
});

Deno.test("Ctrl-A, Ctrl-E, Ctrl-B and Ctrl-F move like Home, End, left and right", () => {
  const editor = new LineEditor();
  type(editor, text("abc"), key("ctrl-a"));
  assert.equal(editor.cursor, 0);
  type(editor, key("ctrl-f"));
  assert.equal(editor.cursor, 1);
  type(editor, key("ctrl-e"));
  assert.equal(editor.cursor, 3);
  type(editor, key("ctrl-b"));
  assert.equal(editor.cursor, 2);
  assert.deepEqual(type(editor, key("ctrl-e"), key("right")), { type: "none" });
});

Deno.test("Ctrl-W deletes the word before the cursor, Ctrl-U everything before it, Ctrl-K after it", () => {
  const editor = new LineEditor();
  type(editor, text("hello big  world"));
  type(editor, key("ctrl-w"));
  assert.equal(editor.text, "hello big  ");
  type(editor, key("ctrl-w"));
  assert.equal(editor.text, "hello ");
  type(editor, text("again"), key("word-left"));
  assert.equal(editor.cursor, 6);
  type(editor, key("ctrl-k"));
  assert.equal(editor.text, "hello ");
  type(editor, key("ctrl-y"));
  assert.equal(editor.text, "hello again", "Ctrl-Y puts back what was cut");
  type(editor, key("left"), key("left"), key("ctrl-u"));
  assert.equal(editor.text, "in");
  assert.equal(editor.cursor, 0);
});

Deno.test("Enter submits the line and clears it; a blank line is not sent", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, text("hi"), key("enter")), {
    type: "submit",
    lines: ["hi"],
  });
  assert.equal(editor.text, "");
  assert.deepEqual(type(editor, text("   "), key("enter")), {
    type: "changed",
  });
});

Deno.test("up and down walk the history and come back to the draft", () => {
  const editor = new LineEditor();
  type(editor, text("one"), key("enter"), text("two"), key("enter"));
  type(editor, text("draft"));
  type(editor, key("up"));
  assert.equal(editor.text, "two");
  type(editor, key("up"));
  assert.equal(editor.text, "one");
  assert.deepEqual(type(editor, key("up")), { type: "none" });
  type(editor, key("down"));
  assert.equal(editor.text, "two");
  type(editor, key("down"));
  assert.equal(editor.text, "draft");
  assert.equal(editor.cursor, 5);
});

Deno.test("history is bounded and skips a repeated line", () => {
  const editor = new LineEditor({ historyLines: 2 });
  for (const line of ["a", "b", "b", "c"]) {
    type(editor, text(line), key("enter"));
  }
  assert.deepEqual([...editor.history], ["b", "c"]);
});

Deno.test("Tab at line start completes a nickname as 'nick: '", () => {
  const editor = new LineEditor({
    completions: () => ({ nicks: ["bob", "Bea", "carol"], commands: [] }),
  });
  type(editor, text("ca"), key("tab"));
  assert.equal(editor.text, "carol: ");
  assert.equal(editor.cursor, 7);
});

Deno.test("Tab cycles through several matches, case-insensitively", () => {
  const editor = new LineEditor({
    completions: () => ({ nicks: ["bob", "Bea", "carol"], commands: [] }),
  });
  type(editor, text("b"), key("tab"));
  assert.equal(editor.text, "Bea: ");
  type(editor, key("tab"));
  assert.equal(editor.text, "bob: ");
  type(editor, key("tab"));
  assert.equal(editor.text, "Bea: ");
  type(editor, text("hi"));
  assert.equal(editor.text, "Bea: hi", "any other key ends the cycle");
});

Deno.test("Tab later in the line completes a nickname followed by a space", () => {
  const editor = new LineEditor({
    completions: () => ({ nicks: ["bob"], commands: ["/msg"] }),
  });
  type(editor, text("/msg b"), key("tab"));
  assert.equal(editor.text, "/msg bob ");
  type(editor, key("ctrl-u"), text("/m"), key("tab"));
  assert.equal(editor.text, "/msg ");
  assert.deepEqual(type(editor, key("ctrl-u"), text("zz"), key("tab")), {
    type: "none",
  });
});

Deno.test("a multi-line paste is one message: it stays in the input line, line breaks kept, until Enter", () => {
  const editor = new LineEditor();
  type(editor, text("x"));
  assert.deepEqual(
    editor.handle({
      type: "paste",
      text: "one\r\ntwo\n\nthree 三\n",
      truncated: false,
    }),
    { type: "changed" },
  );
  assert.equal(
    editor.text,
    "xone\ntwo\n\nthree 三",
    "one trailing break dropped",
  );
  assert.deepEqual(type(editor, key("enter")), {
    type: "submit",
    lines: ["xone\ntwo\n\nthree 三"],
  });
  assert.equal(editor.text, "");
  editor.handle({ type: "paste", text: "just\tthis\x1b[2J", truncated: false });
  assert.equal(editor.text, "just this[2J", "controls never enter the buffer");
});

Deno.test("Ctrl-J (and Alt-Enter, decoded as newline) adds a line break while typing", () => {
  const editor = new LineEditor();
  type(editor, text("first"), key("newline"), text("second"));
  assert.equal(editor.text, "first\nsecond");
  assert.deepEqual(type(editor, key("enter")), {
    type: "submit",
    lines: ["first\nsecond"],
  });
});

Deno.test("a 10,000-character paste is kept whole in the input line", () => {
  const editor = new LineEditor();
  const long = "ab".repeat(5000);
  editor.handle({ type: "paste", text: long, truncated: false });
  assert.equal(editor.text, long);
});

Deno.test("@ then Tab completes a nickname as a mention, anywhere in the line", () => {
  const editor = new LineEditor({
    completions: () => ({ nicks: ["alice", "bob"], commands: ["/help"] }),
  });
  type(editor, text("hi @al"), key("tab"));
  assert.equal(editor.text, "hi @alice ");
  type(editor, key("ctrl-u"), text("@b"), key("tab"));
  assert.equal(editor.text, "@bob ");
});

Deno.test("Ctrl-C quits; Ctrl-D quits on an empty line and deletes otherwise", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, key("ctrl-c")), { type: "quit" });
  assert.deepEqual(type(editor, key("ctrl-d")), { type: "quit" });
  type(editor, text("ab"), key("home"));
  assert.deepEqual(type(editor, key("ctrl-d")), { type: "changed" });
  assert.equal(editor.text, "b");
  assert.deepEqual(type(editor, key("ctrl-l")), { type: "redraw" });
});

Deno.test("input beyond the limit is refused and reported", () => {
  const editor = new LineEditor({ maxChars: 5 });
  assert.deepEqual(type(editor, text("abcdefg")), {
    type: "changed",
    full: true,
  });
  assert.equal(editor.text, "abcde");
});

// --- key decoder -----------------------------------------------------------

function decode(...chunks: (string | number[])[]): KeyEvent[] {
  const decoder = new KeyDecoder();
  const events: KeyEvent[] = [];
  for (const chunk of chunks) {
    const bytes = typeof chunk === "string"
      ? encoder.encode(chunk)
      : new Uint8Array(chunk);
    events.push(...decoder.push(bytes));
  }
  events.push(...decoder.flush());
  // Text from separate reads is joined, as the editor would see it.
  return events.reduce<KeyEvent[]>((all, event) => {
    const last = all[all.length - 1];
    if (event.type === "text" && last?.type === "text") {
      all[all.length - 1] = text(last.text + event.text);
    } else {
      all.push(event);
    }
    return all;
  }, []);
}

Deno.test("the decoder reads arrows, Home/End variants, Delete and control keys", () => {
  assert.deepEqual(decode("\x1b[A\x1b[B\x1b[C\x1b[D"), [
    key("up"),
    key("down"),
    key("right"),
    key("left"),
  ]);
  assert.deepEqual(decode("\x1b[H\x1bOF\x1b[1~\x1b[4~\x1b[3~"), [
    key("home"),
    key("end"),
    key("home"),
    key("end"),
    key("delete"),
  ]);
  assert.deepEqual(decode("\x1b[1;5D\x1b[1;5C\x1bb\x1b\x7f"), [
    key("word-left"),
    key("word-right"),
    key("word-left"),
    key("delete-word-back"),
  ]);
  assert.deepEqual(decode("\x01\x05\x17\x15\x0c\x7f\x08\t\r\x03\x04"), [
    key("ctrl-a"),
    key("ctrl-e"),
    key("ctrl-w"),
    key("ctrl-u"),
    key("ctrl-l"),
    key("backspace"),
    key("backspace"),
    key("tab"),
    key("enter"),
    key("ctrl-c"),
    key("ctrl-d"),
  ]);
});

Deno.test("the decoder joins UTF-8 and escape sequences split across reads", () => {
  const bytes = [...encoder.encode("你好")];
  assert.deepEqual(
    decode(bytes.slice(0, 2), bytes.slice(2, 4), bytes.slice(4)),
    [
      text("你好"),
    ],
  );
  assert.deepEqual(decode("a\x1b", "[", "D"), [text("a"), key("left")]);
});

Deno.test("a lone ESC is the Escape key once input goes quiet", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.push(encoder.encode("\x1b")), []);
  assert.equal(decoder.hasPending, true);
  assert.deepEqual(decoder.flush(), [key("escape")]);
});

Deno.test("Alt-Up and Alt-Down walk the messages, as xterm, tmux, PuTTY and rxvt send them; Ctrl-Up too", () => {
  assert.deepEqual(
    decode("\x1b[1;3A", "\x1b[1;3B", "\x1b[1;5A", "\x1b[1;7B"),
    [
      key("message-up"),
      key("message-down"),
      key("message-up"),
      key(
        "message-down",
      ),
    ],
  );
  // PuTTY and rxvt: ESC, then the arrow; split across reads too.
  assert.deepEqual(decode("\x1b\x1b[A", "\x1b\x1b", "[B", "\x1b\x1bOA"), [
    key("message-up"),
    key("message-down"),
    key("message-up"),
  ]);
  // Alt with left and right still moves by word; a plain arrow is an arrow.
  assert.deepEqual(decode("\x1b\x1b[D\x1b[A"), [key("word-left"), key("up")]);
  // Escape pressed twice is two Escapes, also before other keys.
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.push(encoder.encode("\x1b\x1b")), []);
  assert.deepEqual(decoder.flush(), [key("escape"), key("escape")]);
  assert.deepEqual(decode("\x1b\x1bx"), [key("escape")]);
});

Deno.test("unknown sequences are swallowed, never typed", () => {
  assert.deepEqual(decode("\x1b[15~\x1b[?1;2c\x1bOPx"), [text("x")]);
});

Deno.test("a bracketed paste arrives as one event, even split across reads", () => {
  assert.deepEqual(decode("\x1b[200~one\r", "two\x1b[2", "01~z"), [
    { type: "paste", text: "one\rtwo", truncated: false },
    text("z"),
  ]);
  const decoder = new KeyDecoder(4);
  assert.deepEqual(decoder.push(encoder.encode("\x1b[200~abcdef\x1b[201~")), [
    { type: "paste", text: "abcd", truncated: true },
  ]);
});

Deno.test("decoded keys drive the editor end to end", () => {
  const editor = new LineEditor();
  for (const event of decode("世界\x1b[D\x1b[D你好 \x1b[F!\r")) {
    const action = editor.handle(event);
    if (action.type === "submit") {
      assert.deepEqual(action.lines, ["你好 世界!"]);
      return;
    }
  }
  assert.fail("no line was submitted");
});

Deno.test("widths: CJK and emoji are two columns, combining marks none", () => {
  assert.equal(textWidth("abc"), 3);
  assert.equal(textWidth("你好，世界"), 10);
  assert.equal(textWidth("👋"), 2);
  assert.equal(textWidth("❤️"), 2, "an emoji variation selector makes it wide");
  assert.equal(textWidth("🇫🇷"), 2, "a flag is one wide cell");
  assert.equal(textWidth("e\u0301"), 1);
  assert.equal(textWidth("한국어"), 6);
  assert.equal(textWidth("ｆｕｌｌ"), 8);
  assert.deepEqual(graphemes("👨‍👩‍👧!"), ["👨‍👩‍👧", "!"]);
});

Deno.test("emoji sequences follow the widths measured on the terminal", () => {
  // What tmux 3.3 answers: ❤️ in one column, 👋🏽 as two emoji, 👨‍👩‍👧 joined.
  const tmux = emojiWidthsFromProbes([1, 4, 2]);
  assert.deepEqual(tmux, {
    variationSelector: 1,
    skinToneJoins: false,
    zwjJoins: true,
  });
  assert.deepEqual(emojiWidthsFromProbes([2, 2, 2]), MODERN_EMOJI_WIDTHS);
  assert.equal(emojiWidthsFromProbes([1, 4, 6]).zwjJoins, false);
  try {
    setEmojiWidths(tmux);
    assert.equal(textWidth("❤️"), 1);
    assert.equal(textWidth("👋🏽"), 4);
    assert.equal(textWidth("👨‍👩‍👧"), 2);
    setEmojiWidths(emojiWidthsFromProbes([1, 4, 6]));
    assert.equal(textWidth("👨‍👩‍👧"), 6);
    const editor = new LineEditor();
    editor.handle(text("a👋🏽b"));
    editor.handle(key("left"));
    assert.equal(
      editor.cursorColumn,
      5,
      "the cursor column follows the terminal",
    );
  } finally {
    setEmojiWidths(MODERN_EMOJI_WIDTHS);
  }
  assert.equal(textWidth("👋🏽"), 2);
});

Deno.test("the decoder reads the terminal's cursor position reports", () => {
  assert.deepEqual(decode("\x1b[12;40Rx"), [
    { type: "cursor", row: 12, column: 40 },
    text("x"),
  ]);
});

Deno.test("the decoder reads Enter (CR) as enter, Ctrl-J (LF) and Alt-Enter as a line break", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.push(new TextEncoder().encode("\r\n\x1b\r")), [
    { type: "key", key: "enter" },
    { type: "key", key: "newline" },
  ]);
  assert.deepEqual(decoder.push(new TextEncoder().encode("\n")), [
    { type: "key", key: "newline" },
  ]);
  assert.deepEqual(decoder.push(new TextEncoder().encode("\r")), [
    { type: "key", key: "enter" },
  ]);
});
