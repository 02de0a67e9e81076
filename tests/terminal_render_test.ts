/**
 * The renderer and the screen as pure code: events in, styled lines and the
 * exact bytes for the terminal out. Covers wide characters, colours, NO_COLOR
 * and sanitising of everything another user controls.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { inputWindow, layoutLine, Screen } from "../src/client/screen.ts";
import {
  type Line,
  mentions,
  nickColour,
  plainText,
  renderEvent,
  renderMessage,
  renderWelcome,
} from "../src/client/terminal_render.ts";
import { terminalAbilities } from "../src/client/terminal_client.ts";
import { graphemes } from "../src/shared/text_width.ts";

const TS = new Date(2024, 0, 1, 9, 5).getTime();
const viewer = { me: "alice" };

function msg(from: string, text: string, extra: Partial<RoomMessage> = {}) {
  return {
    type: "msg",
    id: 1,
    ts: TS,
    room: "lobby",
    from,
    text,
    ...extra,
  } as RoomMessage;
}

function plain(event: ServerEvent): string[] {
  return renderEvent(event, viewer).lines.map(plainText);
}

/** Every escape sequence in `bytes`, for checking none came from a user. */
function escapes(bytes: string): string[] {
  // deno-lint-ignore no-control-regex
  return bytes.match(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[^[]/g) ?? [];
}

const OUR_ESCAPES =
  // deno-lint-ignore no-control-regex
  /^\x1b\[(\d+;\d+H|[0-9;]*m|\?25[lh]|2K|2J|\d+;\d+r|r|\?1049[hl]|\?2004[hl])$/;

Deno.test("messages read HH:MM nick: text; the viewer's own are marked with their prompt", () => {
  assert.deepEqual(plain(msg("bob", "hi all")), ["09:05 bob: hi all"]);
  assert.deepEqual(plain(msg("alice", "hello")), ["09:05 alice> hello"]);
  assert.deepEqual(plain(msg("bob", "waves", { me: true })), [
    "09:05 * bob waves",
  ]);
});

Deno.test("private messages say so, in both directions", () => {
  const dm = (from: string, to: string) =>
    ({ type: "dm", id: 2, ts: TS, from, to, text: "psst" }) as ServerEvent;
  assert.deepEqual(plain(dm("bob", "alice")), [
    "09:05 [private from bob] psst",
  ]);
  assert.deepEqual(plain(dm("alice", "bob")), ["09:05 [private to bob] psst"]);
  assert.equal(renderEvent(dm("bob", "alice"), viewer).bell, true);
  assert.equal(renderEvent(dm("alice", "bob"), viewer).bell, false);
});

Deno.test("joins, leaves and renames are dimmed notices", () => {
  const join = { type: "join", ts: TS, room: "lobby", nick: "bob", users: 3 };
  const rendered = renderEvent(join as ServerEvent, viewer);
  assert.deepEqual(rendered.lines.map(plainText), [
    "09:05 -- bob joined lobby (3 here)",
  ]);
  assert.equal(rendered.lines[0].spans[1].style?.dim, true);
  assert.deepEqual(
    plain({
      type: "leave",
      ts: TS,
      room: "lobby",
      nick: "bob",
      reason: "quit",
    }),
    ["09:05 -- bob left lobby (quit)"],
  );
  assert.deepEqual(plain({ type: "nick", ts: TS, old: "bob", new: "rob" }), [
    "09:05 -- bob is now rob",
  ]);
  assert.deepEqual(plain({ type: "nick", ts: TS, old: "al", new: "alice" }), [
    "09:05 -- you are now alice",
  ]);
});

Deno.test("a big room's summaries say how many others joined or left", () => {
  assert.deepEqual(
    plain({
      type: "join",
      ts: TS,
      room: "hall",
      nick: "bob",
      users: 1042,
      others: 41,
    }),
    ["09:05 -- bob and 41 others joined hall (1042 here)"],
  );
  assert.deepEqual(
    plain({
      type: "leave",
      ts: TS,
      room: "hall",
      nick: "bob",
      users: 1040,
      others: 1,
    }),
    ["09:05 -- bob and 1 other left hall (1040 here)"],
  );
});

Deno.test("a mention of the viewer is highlighted and rings the bell; their own lines never ring", () => {
  assert.equal(mentions("hey Alice, look", "alice"), true);
  assert.equal(mentions("malice aforethought", "alice"), false);
  assert.equal(mentions("alice_2 is here", "alice"), false);
  const rendered = renderEvent(msg("bob", "hey ALICE!"), viewer);
  assert.equal(rendered.bell, true);
  const highlighted = rendered.lines[0].spans.find((s) => s.text === "ALICE");
  assert.equal(highlighted?.style?.reverse, true);
  assert.equal(renderEvent(msg("alice", "I am alice"), viewer).bell, false);
});

Deno.test("each nick has one stable colour, whatever its case", () => {
  assert.equal(nickColour("bob"), nickColour("bob"));
  assert.equal(nickColour("Bob"), nickColour("bob"));
  const colours = new Set(
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace"].map(nickColour),
  );
  assert.ok(colours.size >= 4, "different nicks mostly differ");
});

Deno.test("welcome, resume and room change read differently; resumed history says what was missed", () => {
  const welcome = {
    type: "welcome",
    nick: "alice",
    room: "lobby",
    users: ["alice", "bob"],
    history: [],
    server: { name: "chat", version: "0" },
  } as Extract<ServerEvent, { type: "welcome" }>;
  const first = renderWelcome(welcome, "first", []).lines.map(plainText);
  assert.equal(first[0], "-- Welcome, alice! You are in lobby, with bob.");
  const missed = [msg("bob", "alice, you there?")];
  const resumed = renderWelcome(welcome, "resumed", missed);
  assert.deepEqual(resumed.lines.map(plainText), [
    "-- Reconnected: back in lobby as alice, with bob.",
    "-- 1 message while you were away:",
    "09:05 bob: alice, you there?",
  ]);
  assert.equal(resumed.bell, true, "a missed mention rings once");
  assert.equal(renderWelcome(welcome, "first", missed).bell, false);
  // A long absence: the server sent the newest and said there were more.
  const cut = renderWelcome({ ...welcome, more: true }, "resumed", missed);
  assert.equal(
    plainText(cut.lines[1]),
    "-- the last 1 message while you were away (earlier ones are not shown):",
  );
  assert.equal(
    renderWelcome({ ...welcome, more: true }, "first", missed).lines.length,
    first.length + 2,
    "a first welcome's history is recent messages anyway: no hint",
  );
});

Deno.test("who in a big room shows the total and what is left; a history page lists its messages", () => {
  const who = renderEvent({
    type: "who",
    room: "hall",
    users: ["alice", "bob"],
    total: 4802,
    next: 2,
  }, { me: "alice" });
  assert.equal(
    plainText(who.lines[0]),
    "-- In hall (4802): alice, bob and 4,800 more (/who 2 for the next)",
  );
  const page = renderEvent({
    type: "history",
    room: "hall",
    messages: [msg("bob", "earlier")],
    more: true,
  }, { me: "alice" });
  assert.deepEqual(page.lines.map(plainText), [
    "-- Earlier messages in hall:",
    "09:05 bob: earlier",
  ]);
});

Deno.test("a message of a room other than the viewer's current one is tagged with its room", () => {
  const inLobby = { me: "alice", room: "lobby" };
  const line = (m: RoomMessage) => renderEvent(m, inLobby).lines.map(plainText);
  assert.deepEqual(line(msg("bob", "hi", { room: "class" })), [
    "09:05 [class] bob: hi",
  ]);
  assert.deepEqual(line(msg("bob", "waves", { room: "class", me: true })), [
    "09:05 [class] * bob waves",
  ]);
  assert.deepEqual(line(msg("alice", "mine", { room: "class" })), [
    "09:05 [class] alice> mine",
  ]);
  assert.deepEqual(line(msg("bob", "hi")), ["09:05 bob: hi"], "current: plain");
});

Deno.test("part, rooms and a welcome into a further room name the viewer's rooms", () => {
  const inClass = { me: "alice", room: "class" };
  const lines = (event: ServerEvent) =>
    renderEvent(event, inClass).lines.map(plainText);
  assert.deepEqual(
    lines({
      type: "part",
      ts: TS,
      room: "games",
      current: "lobby",
      rooms: ["lobby", "class"],
    }),
    ["-- You left games. Your rooms: lobby, class (current)."],
  );
  assert.deepEqual(
    lines({ type: "part", ts: TS, room: "lobby", rooms: [] }),
    ["-- You left lobby. You are in no room now: /join ROOM to talk again."],
  );
  assert.deepEqual(
    lines({
      type: "rooms",
      rooms: [
        { name: "class", users: 2 },
        { name: "games", users: 5 },
        { name: "lobby", users: 3 },
      ],
      joined: ["lobby", "class"],
      current: "lobby",
    }),
    ["-- Rooms: class (2, current), games (5), lobby (3, joined)"],
    "the client's own current room is marked, not the server's",
  );
  const welcome = {
    type: "welcome",
    nick: "alice",
    room: "class",
    users: ["alice", "dave"],
    history: [],
    server: { name: "chat", version: "0" },
    rooms: ["lobby", "class"],
  } as Extract<ServerEvent, { type: "welcome" }>;
  assert.deepEqual(renderWelcome(welcome, "room", []).lines.map(plainText), [
    "-- You are in class, with dave.",
    "-- Also in lobby: /join ROOM or Alt-1..9 switches, /part leaves.",
  ]);
  const resumedElsewhere = renderWelcome(
    welcome,
    "resumed",
    [msg("dave", "missed", { room: "class" })],
    "lobby",
  );
  assert.equal(
    resumedElsewhere.lines.map(plainText).at(-1),
    "09:05 [class] dave: missed",
    "a resumed room that is not current keeps its messages tagged",
  );
});

Deno.test("no byte sequence from another user reaches the terminal as a control sequence", () => {
  const hostile = "\x1b[2J\x1b]0;owned\x07\x9b31m\r\x08\x1bc\u202egnp.exe\x00";
  const events: ServerEvent[] = [
    msg(`ev\x1b[31mil`, hostile),
    msg("bob", hostile, { me: true }),
    {
      type: "dm",
      id: 3,
      ts: TS,
      from: "b\x1b[Hob",
      to: "alice",
      text: hostile,
    },
    { type: "error", code: "bad_frame", message: hostile },
    { type: "bye", reason: hostile },
    { type: "who", room: hostile, users: [hostile], total: 1 },
    { type: "leave", ts: TS, room: "x", nick: "y", reason: hostile },
  ];
  for (const colour of [true, false]) {
    const screen = new Screen({ columns: 40, rows: 10, colour });
    let bytes = screen.enter();
    for (const event of events) {
      bytes += screen.addLines(renderEvent(event, viewer).lines);
    }
    bytes += screen.setStatus({ spans: [{ text: hostile }], indent: 0 });
    bytes += screen.setInput({
      prompt: hostile,
      cells: graphemes(hostile),
      cursor: 0,
    });
    for (const sequence of escapes(bytes)) {
      assert.match(sequence, OUR_ESCAPES, JSON.stringify(sequence));
    }
    assert.ok(!bytes.includes("\x07"), "no bell hidden in text");
    assert.ok(!bytes.includes("\x9b"), "no 8-bit CSI");
    assert.ok(!bytes.includes("\u202e"), "no bidi override");
    assert.ok(!bytes.includes("\x00") && !bytes.includes("\x08"));
    assert.ok(!bytes.includes("\r"), "no carriage return");
  }
});

Deno.test("NO_COLOR: no colour codes at all, but bold and reverse remain", () => {
  const screen = new Screen({ columns: 60, rows: 10, colour: false });
  const bytes = screen.addLines(
    renderEvent(msg("bob", "hi alice"), viewer).lines,
  );
  // deno-lint-ignore no-control-regex
  const sgrs = bytes.match(/\x1b\[[0-9;]*m/g) ?? [];
  for (const sgr of sgrs) {
    const codes = sgr.slice(2, -1).split(";").map(Number);
    assert.ok(
      codes.every((c) => c < 30),
      `no colour in ${JSON.stringify(sgr)}`,
    );
  }
  assert.ok(sgrs.some((s) => s.includes("7")), "the mention is still reversed");
  const coloured = new Screen({ columns: 60, rows: 10, colour: true });
  assert.ok(
    coloured.addLines(renderEvent(msg("bob", "hi"), viewer).lines)
      .includes(`${nickColour("bob")}m`),
  );
});

Deno.test("NO_COLOR and TERM decide colour and full screen", () => {
  assert.deepEqual(terminalAbilities({ TERM: "xterm-256color" }), {
    fullScreen: true,
    colour: true,
  });
  assert.deepEqual(terminalAbilities({ TERM: "xterm", NO_COLOR: "1" }), {
    fullScreen: true,
    colour: false,
  });
  assert.deepEqual(terminalAbilities({ TERM: "xterm", NO_COLOR: "" }), {
    fullScreen: true,
    colour: true,
  });
  assert.deepEqual(terminalAbilities({ TERM: "dumb" }), {
    fullScreen: false,
    colour: false,
  });
});

Deno.test("long lines wrap at the width: words move down whole, CJK breaks anywhere, never inside a wide character", () => {
  const cjk: Line = { spans: [{ text: "09:05 bob: 你好世界你好" }], indent: 6 };
  assert.deepEqual(layoutLine(cjk, 14, false), [
    "09:05 bob: 你",
    "      好世界你",
    "      好",
  ]);
  const odd: Line = { spans: [{ text: "ab你好" }], indent: 0 };
  assert.deepEqual(layoutLine(odd, 3, false), ["ab", "你", "好"]);
  const words: Line = { spans: [{ text: "-- one two three" }], indent: 3 };
  assert.deepEqual(layoutLine(words, 10, false), [
    "-- one ",
    "   two ",
    "   three",
  ]);
  const long: Line = { spans: [{ text: "09:05 x: aaaaaaaa bbbb" }], indent: 6 };
  assert.deepEqual(
    layoutLine(long, 12, false),
    ["09:05 x: ", "      aaaaaa", "      aa ", "      bbbb"],
    "a word too long for a row is cut; the space at a break is dropped",
  );
});

Deno.test("the input window scrolls sideways to keep the cursor visible, by whole characters", () => {
  const cells = graphemes("你好世界abc");
  // Width 5: at the end the view shows the tail and the cursor after it.
  const end = inputWindow(cells, cells.length, 0, 5);
  assert.deepEqual(cells.slice(end.start, end.end).join(""), "abc");
  assert.equal(end.cursorColumn, 3);
  // Moving back to the start scrolls back.
  const start = inputWindow(cells, 0, end.start, 5);
  assert.equal(start.start, 0);
  assert.equal(cells.slice(start.start, start.end).join(""), "你好");
  assert.equal(start.cursorColumn, 0);
  // A cursor on a wide character keeps both its columns on screen.
  const middle = inputWindow(cells, 3, 0, 5);
  assert.ok(middle.cursorColumn + 2 <= 5);
});

Deno.test("a message while typing scrolls the message area and puts the cursor back in the input", () => {
  const screen = new Screen({ columns: 30, rows: 6, colour: false });
  screen.enter();
  screen.setInput({
    prompt: "[lobby] alice> ",
    cells: graphemes("你好 wor"),
    cursor: 5,
  });
  const lines = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => renderEvent(msg("bob", `m${i}`), viewer).lines[0],
    );
  // Four message rows (6 - status - input): the first fill from the top.
  assert.equal(
    screen.addLines(lines(2)),
    "\x1b[?25l\x1b[1;1H\x1b[0;2m09:05 \x1b[0mbob: m0" +
      "\x1b[2;1H\x1b[0;2m09:05 \x1b[0mbob: m1" +
      "\x1b[6;23H\x1b[?25h",
  );
  // Then the region scrolls: a line feed on its bottom row, the rest untouched.
  const scrolled = screen.addLines(lines(3));
  assert.ok(scrolled.startsWith("\x1b[?25l\x1b[3;1H"));
  assert.ok(scrolled.includes("\x1b[4;1H\n\x1b[4;1H"));
  assert.ok(
    scrolled.endsWith("\x1b[6;23H\x1b[?25h"),
    "cursor back after 你好 wo",
  );
  assert.ok(!scrolled.includes("\x1b[6;1H"), "the input line is not redrawn");
});

Deno.test("the input line shows the prompt and the text with the cursor in the right column", () => {
  const screen = new Screen({ columns: 40, rows: 5, colour: false });
  const bytes = screen.setInput({
    prompt: "[lobby] alice> ",
    cells: graphemes("你好，世界 👋"),
    cursor: 7,
  });
  assert.ok(bytes.includes("[lobby] alice> \x1b[0m你好，世界 👋"));
  assert.ok(
    bytes.endsWith("\x1b[5;29H\x1b[?25h"),
    "15 + 13 columns, then the cursor",
  );
});

Deno.test("resize redraws the last messages re-wrapped, status and input in the new bottom rows", () => {
  const screen = new Screen({ columns: 80, rows: 10, colour: false });
  screen.addLines([renderEvent(msg("bob", "x".repeat(30)), viewer).lines[0]]);
  screen.setStatus({ spans: [{ text: " online" }], indent: 0 });
  const bytes = screen.resize(20, 6);
  assert.ok(bytes.includes("\x1b[1;4r"), "scroll region is the top four rows");
  // The long word moves to its own rows, indented under the text.
  assert.ok(bytes.includes("\x1b[1;1H\x1b[0;2m09:05 \x1b[0mbob: \x1b[2;1H"));
  assert.ok(bytes.includes("\x1b[2;1H      " + "x".repeat(14) + "\x1b[3;1H"));
  assert.ok(bytes.includes("\x1b[4;1H      xx\x1b[5;1H"));
  assert.ok(bytes.includes("\x1b[5;1H\x1b[0;7m online" + " ".repeat(13)));
  assert.ok(bytes.includes("\x1b[6;1H"));
});

Deno.test("a multi-line message's further lines sit under its text; a reply's quote is above it; a mention from another room says where", () => {
  const message: RoomMessage = {
    type: "msg",
    id: 9,
    ts: TS,
    room: "lobby",
    from: "bob",
    text: "@alice see\nthis",
    reply_to: 4,
    quote: { id: 4, from: "alice", text: "did you push…" },
    mentions: ["alice"],
  };
  const rendered = renderMessage(message, { me: "alice", room: "class" });
  assert.deepEqual(rendered.lines.map(plainText), [
    "-- bob mentioned you in lobby (/join lobby to go there)",
    "      ↪ alice: did you push…",
    "09:05 [lobby] bob: @alice see",
    "                   this",
  ]);
  assert.equal(rendered.bell, true);
  const here = renderMessage(message, { me: "alice", room: "lobby" });
  assert.equal(here.lines.length, 3, "no notice in the room itself");
});

Deno.test("a 100,000-character input line shows its last 79 columns with the cursor at the end", () => {
  const cells = Array.from({ length: 100_000 }, () => "x");
  const view = inputWindow(cells, cells.length, 0, 80);
  assert.equal(view.end, cells.length);
  assert.equal(view.end - view.start, 79);
});
