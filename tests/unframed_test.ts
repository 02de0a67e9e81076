/**
 * The compatibility door's pure rules, with a fake clock: when bytes without
 * a newline count as a line, prefix stripping, quit words, guest names and
 * replies cut for `recv(1024)`.
 */

import assert from "node:assert/strict";
import type { ErrorCode, RoomMessage, ServerEvent } from "../protocol.ts";
import { isValidNick } from "../src/shared/sanitize.ts";
import { GuestNames } from "../src/server/guest_names.ts";
import {
  isQuitWord,
  looksLikeOneKey,
  nameFirstSend,
  shortHistory,
  stripOwnPrefix,
  UnframedInput,
} from "../src/server/doors/unframed.ts";
import {
  firstUtf8Piece,
  truncateUtf8,
} from "../src/server/doors/utf8_chunks.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const timings = { idleMs: 100, keystrokeIdleMs: 1000 };

Deno.test("bytes without a newline count as a line after the idle time, measured from the last chunk", () => {
  const input = new UnframedInput(timings);
  assert.equal(input.flushAt, undefined, "nothing held, nothing to flush");
  input.receive(bytes("你好，"), 1_000);
  assert.equal(input.flushAt, 1_100);
  input.receive(bytes("大家"), 1_050);
  assert.equal(input.flushAt, 1_150, "a chunk arriving restarts the wait");
  assert.equal(input.framing, "undecided");
  input.taken();
  assert.equal(input.framing, "unframed");
  assert.equal(input.flushAt, undefined);
  input.receive(bytes("q"), 2_000);
  assert.equal(
    input.flushAt,
    2_100,
    "once unframed, a one-letter send is a line after the short wait",
  );
});

Deno.test("a newline makes a connection a line connection for good, even after unframed input", () => {
  const input = new UnframedInput(timings);
  input.receive(bytes("alice\n"), 0);
  assert.equal(input.framing, "lines");
  input.receive(bytes("partial"), 10);
  assert.equal(input.flushAt, undefined, "a line client's partial waits");
  assert.equal(input.flushesAtEnd, false, "and is not a line at close");

  const later = new UnframedInput(timings);
  later.receive(bytes("hello"), 0);
  later.taken();
  later.receive(bytes("hi\n"), 500);
  assert.equal(later.framing, "lines");
  later.receive(bytes("more"), 600);
  assert.equal(later.flushAt, undefined);
});

Deno.test("bytes held at close or reset count as a line unless the connection sent a newline", () => {
  const input = new UnframedInput(timings);
  assert.equal(input.flushesAtEnd, false, "nothing held");
  input.receive(bytes("bye"), 0);
  assert.equal(input.flushesAtEnd, true);
  input.taken();
  assert.equal(input.flushesAtEnd, false, "taken already");
});

Deno.test("a character-at-a-time terminal never turns a key into a message", () => {
  const input = new UnframedInput(timings);
  input.receive(bytes("a"), 0);
  assert.equal(input.flushAt, 1_000, "a lone key waits longer");
  input.receive(bytes("l"), 180);
  assert.equal(input.framing, "keystrokes");
  assert.equal(input.flushAt, undefined, "from now on, wait for a newline");
  for (const [i, key] of ["i", "c", "e"].entries()) {
    input.receive(bytes(key), 400 + i * 150);
    assert.equal(input.flushAt, undefined);
  }
  assert.equal(input.flushesAtEnd, false);
  input.receive(bytes("\r\n"), 1_200);
  assert.equal(input.framing, "lines");
});

Deno.test("arrow keys, erase keys and one Chinese character each look like one key; a word does not", () => {
  assert.ok(looksLikeOneKey(bytes("好")));
  assert.ok(looksLikeOneKey(bytes("\x1b[A")));
  assert.ok(looksLikeOneKey(bytes("\x7f")));
  assert.ok(!looksLikeOneKey(bytes("好的")));
  assert.ok(!looksLikeOneKey(bytes("hi")));
  assert.ok(!looksLikeOneKey(new Uint8Array([0xe5, 0xa5])), "half a character");
});

Deno.test("a lone first key that is followed by nothing is a line after the longer wait", () => {
  const input = new UnframedInput(timings);
  input.receive(bytes("q"), 0);
  assert.equal(input.flushAt, 1_000);
  input.taken();
  assert.equal(input.framing, "unframed");
});

Deno.test("a lone first key then, after a pause, a whole send: two lines; then a key: still typing", () => {
  const program = new UnframedInput(timings);
  program.receive(bytes("q"), 0);
  assert.equal(
    program.splitsBefore(bytes("hello there"), 50),
    false,
    "too soon",
  );
  assert.equal(program.splitsBefore(bytes("hello there"), 400), true);
  assert.equal(program.splitsBefore(bytes("l"), 400), false, "a key: typing");
  assert.equal(program.splitsBefore(bytes("lice\n"), 400), false, "a line");

  const typist = new UnframedInput(timings);
  typist.receive(bytes("a"), 0);
  assert.equal(typist.splitsBefore(bytes("l"), 900), false);
  typist.receive(bytes("l"), 900);
  assert.equal(typist.framing, "keystrokes");
  assert.equal(typist.splitsBefore(bytes("ice"), 1200), false);
});

Deno.test("a word after a first key is not typing: the short wait applies", () => {
  const input = new UnframedInput(timings);
  input.receive(bytes("a"), 0);
  input.receive(bytes("lice"), 50);
  assert.equal(input.framing, "undecided");
  assert.equal(input.flushAt, 150);
});

Deno.test("telnet negotiation bytes make a line connection", () => {
  const input = new UnframedInput(timings);
  input.receive(new Uint8Array([0xff, 0xfb, 0x18, 0xff, 0xfd, 0x03]), 0);
  assert.equal(input.framing, "lines");
  input.receive(bytes("a"), 10);
  input.receive(bytes("b"), 20);
  assert.equal(input.flushAt, undefined);
  assert.equal(input.flushesAtEnd, false);
});

Deno.test("the sender's own name prefix is removed, in its usual spellings", () => {
  assert.equal(stripOwnPrefix("alice: hi", ["alice"]), "hi");
  assert.equal(stripOwnPrefix("alice : 你好", ["alice"]), "你好");
  assert.equal(stripOwnPrefix("Alice:hi", ["alice"]), "hi", "any case");
  assert.equal(
    stripOwnPrefix("小明：吃了吗", ["小明"]),
    "吃了吗",
    "full-width",
  );
  assert.equal(stripOwnPrefix("alice : exit", ["guest-1", "alice"]), "exit");
  assert.equal(stripOwnPrefix("alice:", ["alice"]), "");
});

Deno.test("another name, or a colon later in the text, is left alone", () => {
  assert.equal(stripOwnPrefix("bob: hi", ["alice"]), "bob: hi");
  assert.equal(stripOwnPrefix("note: alice: hi", ["alice"]), "note: alice: hi");
  assert.equal(stripOwnPrefix("hi alice: there", ["alice"]), "hi alice: there");
  assert.equal(stripOwnPrefix("alice hi", ["alice"]), "alice hi");
  assert.equal(stripOwnPrefix(": hi", [""]), ": hi");
});

Deno.test("exit, quit and q in any case are quit words; sentences are not", () => {
  for (const word of ["exit", "QUIT", "Quit", "q", "Q", " exit "]) {
    assert.ok(isQuitWord(word), word);
  }
  for (const text of ["quit now", "qq", "exit!", "/quit", ""]) {
    assert.ok(!isQuitWord(text), text);
  }
});

Deno.test("guest names count up and skip taken ones; a taken name gets a variant that fits", () => {
  const guests = new GuestNames();
  const taken = new Set(["guest-2", "alice-2"]);
  const isFree = (nick: string) => !taken.has(nick);
  assert.equal(guests.next(isFree), "guest-1");
  assert.equal(guests.next(isFree), "guest-3");
  assert.equal(guests.variant("alice", isFree), "alice-3");
  const long = "一二三四五六七八九十一二三四五六七八九十一二三四";
  const variant = guests.variant(long, isFree);
  assert.equal([...variant].length, 24);
  assert.ok(variant.endsWith("-2"));
});

Deno.test("a first send that is a free nickname is the name; a taken one gets a variant; anything else is a guest's message", () => {
  const guests = new GuestNames();
  const taken = new Set(["alice", "alice-2"]);
  const checkNick = (nick: string): ErrorCode | undefined =>
    taken.has(nick)
      ? "nick_taken"
      : isValidNick(nick)
      ? undefined
      : "nick_invalid";
  assert.deepEqual(nameFirstSend("bob", checkNick, guests), {
    nick: "bob",
    chosenNick: "bob",
  });
  assert.deepEqual(nameFirstSend("alice", checkNick, guests), {
    nick: "alice-3",
    chosenNick: "alice",
  });
  assert.deepEqual(nameFirstSend("hello there", checkNick, guests), {
    nick: "guest-1",
    chosenNick: undefined,
  });
});

/** `data` cut as the write queue writes it: first piece, then the rest's. */
function piecesAsWritten(data: Uint8Array, maxBytes: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let rest = data; rest.length > 0;) {
    const piece = firstUtf8Piece(rest, maxBytes);
    pieces.push(piece);
    rest = rest.subarray(piece.length);
  }
  return pieces;
}

Deno.test("replies are cut into pieces that fit recv(1024) and never split a character", () => {
  const line = `12:00 bob: ${"汉字".repeat(600)}\n`;
  const data = bytes(`* Welcome!\n${line}${line}`);
  const pieces = piecesAsWritten(data, 1024);
  const strict = new TextDecoder("utf-8", { fatal: true });
  let joined = "";
  for (const piece of pieces) {
    assert.ok(piece.length <= 1024);
    joined += strict.decode(piece); // throws on a cut character
  }
  assert.equal(joined, new TextDecoder().decode(data));
  assert.equal(
    strict.decode(pieces[0]),
    "* Welcome!\n",
    "a piece ends after a newline when one fits",
  );
  assert.deepEqual(piecesAsWritten(bytes("short"), 1024).length, 1);
});

Deno.test("a datagram is truncated on a character boundary, marked with an ellipsis", () => {
  const data = bytes("字".repeat(1000));
  const cut = truncateUtf8(data, 1024);
  assert.ok(cut.length <= 1024);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(cut);
  assert.ok(text.endsWith("…\n"));
  assert.ok(text.startsWith("字字字"));
  assert.equal(truncateUtf8(bytes("hi\n"), 1024).length, 3);
});

Deno.test("a welcome keeps only its last few history messages for unframed clients", () => {
  const history: RoomMessage[] = Array.from({ length: 8 }, (_, i) => ({
    type: "msg",
    id: i + 1,
    ts: 0,
    room: "lobby",
    from: "bob",
    text: `m${i + 1}`,
  }));
  const welcome: ServerEvent = {
    type: "welcome",
    nick: "alice",
    room: "lobby",
    users: ["alice"],
    history,
    server: { name: "chat", version: "0" },
  };
  const short = shortHistory(welcome, 3);
  assert.deepEqual(
    short.type === "welcome" && short.history.map((m) => m.text),
    ["m6", "m7", "m8"],
  );
  assert.equal(shortHistory({ type: "pong" }, 3).type, "pong");
});
