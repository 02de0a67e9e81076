/**
 * The telnet command parser: commands come out wherever they fall, also
 * split across reads; data is passed on untouched, the same buffer when a
 * read has no 0xFF.
 */

import assert from "node:assert/strict";
import {
  IacParser,
  type IacSink,
  TELNET,
  type TelnetCommand,
} from "../src/server/doors/telnet/iac_parser.ts";

const { IAC, DO, DONT, WILL, WONT, SB, SE, IP, AYT, BRK, NOP } = TELNET;

type Piece = string | "start" | TelnetCommand;

/** Feeds each chunk; returns data (as latin1-ish hex-free text) and commands in order. */
function parse(...chunks: number[][]): Piece[] {
  const parser = new IacParser();
  const pieces: Piece[] = [];
  const sink: IacSink = {
    data: (bytes) => {
      const text = String.fromCharCode(...bytes);
      // Neighbouring data pieces are one stream: join them.
      if (typeof pieces.at(-1) === "string" && pieces.at(-1) !== "start") {
        pieces[pieces.length - 1] += text;
      } else pieces.push(text);
    },
    start: () => pieces.push("start"),
    command: (command) => pieces.push(command),
  };
  for (const chunk of chunks) parser.push(new Uint8Array(chunk), sink);
  parser.end(sink);
  return pieces;
}

const bytes = (text: string) => [...text].map((c) => c.charCodeAt(0));

Deno.test("a read without 0xFF is passed on as the same buffer, and the connection is not telnet", () => {
  const parser = new IacParser();
  const chunk = new TextEncoder().encode("hello 你好\n");
  const seen: Uint8Array[] = [];
  parser.push(chunk, {
    data: (b) => seen.push(b),
    start: () => assert.fail("not telnet"),
    command: () => assert.fail("no command"),
  });
  assert.equal(seen.length, 1);
  assert.equal(seen[0], chunk, "the very same buffer, not a copy");
  assert.equal(parser.active, false);
});

Deno.test("Ctrl-C in line mode (IAC IP, IAC DO TIMING-MARK) comes out as two commands between the data", () => {
  assert.deepEqual(
    parse([...bytes("hi"), IAC, IP, IAC, DO, 6, ...bytes("after\r\n")]),
    [
      "hi",
      "start",
      { type: "signal", signal: "IP" },
      { type: "option", verb: "DO", option: 6 },
      "after\r\n",
    ],
  );
});

Deno.test("a command split across reads at every byte is still one command", () => {
  const stream = [
    ...bytes("a"),
    IAC,
    WILL,
    31,
    IAC,
    SB,
    31,
    0,
    120,
    0,
    40,
    IAC,
    SE,
    ...bytes("b"),
    IAC,
    AYT,
    ...bytes("c"),
  ];
  const whole = parse(stream);
  const oneByteEach = parse(...stream.map((b) => [b]));
  assert.deepEqual(oneByteEach, whole);
  assert.deepEqual(whole, [
    "a",
    "start",
    { type: "option", verb: "WILL", option: 31 },
    {
      type: "subnegotiation",
      option: 31,
      data: new Uint8Array([0, 120, 0, 40]),
    },
    "b",
    { type: "signal", signal: "AYT" },
    "c",
  ]);
  // And cut at every other place, in two reads.
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(
      parse(stream.slice(0, cut), stream.slice(cut)),
      whole,
      `cut at ${cut}`,
    );
  }
});

Deno.test("IAC IAC is a literal 0xFF in data, and inside a subnegotiation", () => {
  assert.deepEqual(
    parse([IAC, NOP, ...bytes("x"), IAC, IAC, ...bytes("y")]),
    ["start", { type: "signal", signal: "NOP" }, "x\xffy"],
  );
  assert.deepEqual(parse([IAC, NOP], [IAC], [IAC, 0x41]), [
    "start",
    { type: "signal", signal: "NOP" },
    "\xffA",
  ]);
  // NAWS of a 255-column window: the 255 is doubled on the wire.
  assert.deepEqual(parse([IAC, SB, 31, 0, IAC, IAC, 0, 24, IAC, SE]), [
    "start",
    {
      type: "subnegotiation",
      option: 31,
      data: new Uint8Array([0, 255, 0, 24]),
    },
  ]);
});

Deno.test("0xFF with no command after it is not telnet: the bytes stay, to be refused as text", () => {
  assert.deepEqual(parse([0xc3, 0x28, IAC, 0x0a]), ["\xc3(\xff\n"]);
  assert.deepEqual(parse([IAC, 0xc3, 0x28, 0x0a]), ["\xff\xc3(\n"]);
  // A read that ends in IAC waits for the next; at the end of input it is data.
  assert.deepEqual(parse(bytes("ab"), [IAC]), ["ab\xff"]);
  assert.deepEqual(parse(bytes("ab"), [IAC], bytes("c")), ["ab\xffc"]);
  assert.deepEqual(parse(bytes("ab"), [IAC], [BRK]), [
    "ab",
    "start",
    { type: "signal", signal: "BRK" },
  ]);
});

Deno.test("every verb is read with its option, and a long subnegotiation costs no memory", () => {
  assert.deepEqual(
    parse([IAC, WILL, 1, IAC, WONT, 2, IAC, DO, 3, IAC, DONT, 4]),
    [
      "start",
      { type: "option", verb: "WILL", option: 1 },
      { type: "option", verb: "WONT", option: 2 },
      { type: "option", verb: "DO", option: 3 },
      { type: "option", verb: "DONT", option: 4 },
    ],
  );
  const long = new Array(100_000).fill(0x41);
  const pieces = parse([IAC, SB, 24, ...long, IAC, SE, ...bytes("ok")]);
  assert.equal(pieces.length, 3);
  const sub = pieces[1] as { type: string; data: Uint8Array };
  assert.equal(sub.type, "subnegotiation");
  assert.ok(sub.data.length <= 64, `kept ${sub.data.length} bytes`);
  assert.equal(pieces[2], "ok");
});

Deno.test("after the first command, data without 0xFF passes through untouched too", () => {
  const parser = new IacParser();
  const seen: Uint8Array[] = [];
  const sink: IacSink = {
    data: (b) => seen.push(b),
    start: () => {},
    command: () => {},
  };
  parser.push(new Uint8Array([IAC, NOP]), sink);
  const chunk = new TextEncoder().encode("plain");
  parser.push(chunk, sink);
  assert.equal(seen.at(-1), chunk);
  assert.equal(parser.active, true);
});
