import assert from "node:assert/strict";
import {
  type LinePiece,
  LineSplitter,
  LineStream,
  parseClientFrame,
  parseServerEvent,
} from "../protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function split(chunks: (string | Uint8Array)[], maxBytes?: number): string[] {
  const splitter = new LineSplitter(maxBytes);
  const out: string[] = [];
  const emit = (piece: LinePiece) =>
    out.push(
      piece.kind === "line" ? decoder.decode(piece.bytes) : "<too_long>",
    );
  for (const chunk of chunks) {
    splitter.push(
      typeof chunk === "string" ? encoder.encode(chunk) : chunk,
      emit,
    );
  }
  return out;
}

Deno.test("parseClientFrame accepts every client frame of the protocol", () => {
  const frames = [
    { type: "hello", nick: "alice", room: "lobby", password: "pw", since: 7 },
    {
      type: "hello",
      nick: "alice",
      room: "lobby",
      password: undefined,
      since: 7,
      rooms: [{ room: "class", since: 5 }, { room: "games" }],
    },
    { type: "say", text: "hi" },
    { type: "say", text: "hi", room: "class" },
    { type: "me", text: "waves" },
    { type: "me", text: "waves", room: "class" },
    { type: "dm", to: "bob", text: "psst" },
    { type: "nick", nick: "alicia" },
    { type: "join", room: "games" },
    { type: "join", room: "games", since: 3 },
    { type: "part" },
    { type: "part", room: "games" },
    { type: "who" },
    { type: "who", room: "games" },
    { type: "who", room: "games", offset: 200 },
    {
      type: "history",
      room: "lobby",
      before: 90,
      after: 10,
      limit: 50,
    },
    { type: "rooms" },
    { type: "ping" },
    { type: "quit", reason: "bye" },
  ];
  for (const frame of frames) {
    const result = parseClientFrame(JSON.stringify(frame));
    assert.deepEqual(result, { ok: true, frame }, frame.type);
  }
});

Deno.test("parseClientFrame drops unknown fields and keeps optional ones undefined", () => {
  const result = parseClientFrame('{"type":"say","text":"x","from":"mallory"}');
  assert.deepEqual(result, { ok: true, frame: { type: "say", text: "x" } });
  const hello = parseClientFrame('{"type":"hello","nick":"a"}');
  assert.ok(
    hello.ok && hello.frame.type === "hello" && hello.frame.since === undefined,
  );
});

Deno.test("parseClientFrame names what is wrong", () => {
  const cases: [string, string][] = [
    ["{", "bad_json"],
    ["[1,2]", "bad_frame"],
    ["null", "bad_frame"],
    ['"say"', "bad_frame"],
    ['{"text":"no type"}', "unknown_type"],
    ['{"type":"shout","text":"x"}', "unknown_type"],
    ['{"type":"say"}', "bad_frame"],
    ['{"type":"say","text":["x"]}', "bad_frame"],
    ['{"type":"dm","to":"bob"}', "bad_frame"],
    ['{"type":"hello","nick":1}', "bad_frame"],
    ['{"type":"hello","nick":"a","since":-1}', "bad_frame"],
    ['{"type":"hello","nick":"a","since":1.5}', "bad_frame"],
    ['{"type":"quit","reason":3}', "bad_frame"],
    ['{"type":"say","text":"x","room":5}', "bad_frame"],
    ['{"type":"join","room":"a","since":"1"}', "bad_frame"],
    ['{"type":"part","room":["a"]}', "bad_frame"],
    ['{"type":"hello","nick":"a","rooms":"class"}', "bad_frame"],
    ['{"type":"hello","nick":"a","rooms":[{"since":1}]}', "bad_frame"],
    [
      '{"type":"hello","nick":"a","rooms":[{"room":"a","since":-2}]}',
      "bad_frame",
    ],
    ['{"type":"hello","nick":"a","rooms":[null]}', "bad_frame"],
    ['{"type":"who","offset":-200}', "bad_frame"],
    ['{"type":"history","before":"41"}', "bad_frame"],
    ['{"type":"history","limit":2.5}', "bad_frame"],
    ['{"type":"history","room":7}', "bad_frame"],
  ];
  for (const [line, code] of cases) {
    const result = parseClientFrame(line);
    assert.equal(result.ok, false, line);
    assert.equal(!result.ok && result.code, code, line);
  }
});

Deno.test("parseServerEvent reads events and ignores the banner", () => {
  assert.deepEqual(parseServerEvent('{"type":"pong"}'), { type: "pong" });
  assert.equal(
    parseServerEvent("Welcome to chat. Please choose a nickname:"),
    undefined,
  );
  assert.equal(parseServerEvent("{broken"), undefined);
});

Deno.test("LineSplitter splits on \\n, drops \\r, and joins lines across chunks", () => {
  assert.deepEqual(split(["a\nb\r\n", "c", "d\n\n"]), ["a", "b", "cd", ""]);
});

Deno.test("LineSplitter never splits a UTF-8 character across lines", () => {
  const bytes = encoder.encode("你好\n世界\n");
  const chunks = [...bytes].map((b) => new Uint8Array([b]));
  assert.deepEqual(split(chunks), ["你好", "世界"]);
});

Deno.test("LineSplitter reports an overlong line once and discards it to its newline", () => {
  const long = "x".repeat(40);
  assert.deepEqual(split([long.slice(0, 20), long.slice(20), "\nok\n"], 16), [
    "<too_long>",
    "ok",
  ]);
  assert.deepEqual(split(["y".repeat(16) + "\r\n"], 16), ["y".repeat(16)]);
  assert.deepEqual(split(["y".repeat(17) + "\n", "z\n"], 16), [
    "<too_long>",
    "z",
  ]);
});

Deno.test("LineSplitter holds no more than the limit while discarding", () => {
  const splitter = new LineSplitter(1024);
  let tooLong = 0;
  const chunk = new Uint8Array(64 * 1024).fill(0x41);
  for (let i = 0; i < 100; i++) {
    splitter.push(chunk, (p) => {
      if (p.kind === "too_long") tooLong++;
    });
  }
  assert.equal(tooLong, 1);
  assert.equal(
    splitter.hasPartial,
    false,
    "nothing of the 6.4 MB line is kept",
  );
});

Deno.test("LineSplitter hands an unfinished line to takePartial", () => {
  const splitter = new LineSplitter();
  splitter.push(encoder.encode("done\nhalf"), () => {});
  assert.equal(decoder.decode(splitter.takePartial()), "half");
  assert.equal(splitter.takePartial(), undefined);
});

Deno.test("LineStream turns a byte stream into lines, the last without newline too", async () => {
  const source = ReadableStream.from([
    encoder.encode("one\ntw"),
    encoder.encode("o\nthree"),
  ]);
  const lines = await Array.fromAsync(source.pipeThrough(new LineStream()));
  assert.deepEqual(lines, ["one", "two", "three"]);
});
