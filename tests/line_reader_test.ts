/**
 * A connection's bytes to lines, without a socket: the splitter, the
 * unframed idle rule, telnet, the charset, the refusals, and the lines held
 * (undecoded) while the connection waits.
 */

import assert from "node:assert/strict";
import {
  LineReader,
  type LineRefusal,
} from "../src/server/doors/line_reader.ts";
import { TELNET } from "../src/server/doors/telnet/iac_parser.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const { IAC, AYT } = TELNET;
/** 你好 in GB18030 (and GBK): not UTF-8. */
const NI_HAO_GB = [0xc4, 0xe3, 0xba, 0xc3];

/** A reader whose connection records what it is told. */
function reader(
  options: { idleMs?: number; keystrokeIdleMs?: number } = {},
) {
  const state = {
    lines: [] as { text: string; unframed: boolean }[],
    refusals: [] as { code: LineRefusal; message?: string }[],
    printed: [] as string[],
    sent: [] as number[][],
    left: 0,
    legacy: true,
    closed: false,
    waiting: false,
    readsNoMore: false,
    /** Called after each line is recorded (a line may begin a wait). */
    afterLine: (_text: string) => {},
  };
  const lineReader = new LineReader({
    sendRaw: (bytes) => state.sent.push([...bytes]),
    writeLine: (line) => state.printed.push(line),
    takeLine: (text, unframed) => {
      state.lines.push({ text, unframed });
      state.afterLine(text);
    },
    refuseLine: (code, message) =>
      state.refusals.push(message ? { code, message: message() } : { code }),
    leaveByKeys: () => state.left++,
    get readsLegacyText() {
      return state.legacy;
    },
    get closed() {
      return state.closed;
    },
    get waiting() {
      return state.waiting;
    },
    get readsNoMore() {
      return state.readsNoMore;
    },
  }, {
    idleMs: options.idleMs ?? 60_000,
    keystrokeIdleMs: options.keystrokeIdleMs ?? 60_000,
  });
  const read = (...parts: (string | number[])[]) => {
    for (const part of parts) {
      lineReader.read(
        typeof part === "string" ? encoder.encode(part) : new Uint8Array(part),
      );
    }
  };
  const texts = () => state.lines.map((line) => line.text);
  return { reader: lineReader, state, read, texts };
}

/** Resolves once `done()` holds, polling; fails after a generous deadline. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("a line split across reads is one line, and CRLF ends a line like LF", () => {
  const { reader: r, read, state, texts } = reader();
  read("hel", "lo\r", "\nwor", "ld\nlast\r\n");
  assert.deepEqual(texts(), ["hello", "world", "last"]);
  assert.ok(state.lines.every((line) => !line.unframed));
  assert.deepEqual(state.refusals, []);
  r.close();
});

Deno.test("an over-long line is refused once however many reads it spans, and the next line is read", () => {
  const { reader: r, read, state, texts } = reader();
  const tenThousand = "a".repeat(10_000);
  read(tenThousand, tenThousand, tenThousand, tenThousand, "\nnext\n");
  assert.deepEqual(state.refusals, [{ code: "too_long" }]);
  assert.deepEqual(texts(), ["next"]);
  // Just under the limit (16 KiB) is a line.
  read("b".repeat(16 * 1024) + "\r\n");
  assert.equal(state.lines.at(-1)?.text.length, 16 * 1024);
  assert.equal(state.refusals.length, 1);
  r.close();
});

Deno.test("bytes sent without a newline are one unframed line after the idle time", async () => {
  const { reader: r, read, state } = reader({ idleMs: 30 });
  read("hello there");
  assert.deepEqual(state.lines, [], "not before the idle time");
  await until(() => state.lines.length === 1, "the first unframed line");
  assert.deepEqual(state.lines, [{ text: "hello there", unframed: true }]);
  // An unframed peer's next send is a line of its own, after the idle time.
  read("second ", "send");
  await until(() => state.lines.length === 2, "the second unframed line");
  assert.deepEqual(state.lines[1], { text: "second send", unframed: true });
  r.close();
});

Deno.test("an unframed peer's last send before it closes is its last line; a line client's partial is not", () => {
  const unframed = reader();
  unframed.read("bye");
  unframed.reader.end();
  assert.deepEqual(unframed.state.lines, [{ text: "bye", unframed: true }]);
  unframed.reader.close();

  const lines = reader();
  lines.read("one\n", "partial");
  lines.reader.end();
  assert.deepEqual(lines.texts(), ["one"]);
  lines.reader.close();
});

Deno.test("a telnet command starts telnet: the line begun before it is finished by the editor, output gets CR LF", async () => {
  const { reader: r, read, state, texts } = reader({
    idleMs: 20,
    keystrokeIdleMs: 20,
  });
  const hi = encoder.encode("hi\n");
  assert.deepEqual(r.outgoing(hi), hi, "before telnet, output is untouched");
  read("hel", [IAC, AYT], "lo\r\n");
  assert.deepEqual(state.printed, ["[yes, still here]"]);
  assert.deepEqual(texts(), ["hello"]);
  assert.deepEqual(state.lines[0].unframed, false);
  // "hel" was taken by telnet: the idle timer must not make it a line too.
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(texts(), ["hello"]);
  assert.equal(decoder.decode(r.outgoing(hi)), "hi\r\n");
  r.close();
});

Deno.test("a JSON connection never starts telnet: a 0xFF line is refused as not UTF-8", () => {
  const { reader: r, read, state } = reader();
  state.legacy = false;
  read([IAC, AYT, 0x0a]);
  assert.deepEqual(state.printed, []);
  assert.deepEqual(state.lines, []);
  assert.equal(state.refusals.length, 1);
  assert.equal(state.refusals[0].code, "invalid_utf8");
  r.close();
});

Deno.test("a GB18030 line is decoded, the switch is told once, and output is GB18030 from then on", () => {
  const { reader: r, read, state, texts } = reader();
  read([...NI_HAO_GB, 0x0d, 0x0a], [...NI_HAO_GB, 0x0a]);
  assert.deepEqual(texts(), ["你好", "你好"]);
  assert.equal(r.charset.name, "gb18030");
  assert.equal(state.printed.length, 1);
  assert.match(state.printed[0], /GB18030/);
  assert.deepEqual([...r.outgoing(encoder.encode("你好\n"))], [
    ...NI_HAO_GB,
    0x0a,
  ]);
  r.close();
});

Deno.test("a line valid in no charset is refused with a message that names it", () => {
  const { reader: r, read, state } = reader();
  read([0x41, 0x81, 0x0a]);
  assert.deepEqual(state.lines, []);
  assert.equal(state.refusals.length, 1);
  assert.equal(state.refusals[0].code, "invalid_utf8");
  assert.match(state.refusals[0].message ?? "", /UTF-8/);
  assert.equal(r.charset.name, "utf-8");
  r.close();
});

Deno.test("a line with a NUL in it is refused as bad text, and the lines around it are read", () => {
  const { reader: r, read, state, texts } = reader();
  read("before\na\0b\nafter\n");
  assert.deepEqual(texts(), ["before", "after"]);
  assert.deepEqual(state.refusals, [{ code: "bad_text" }]);
  r.close();
});

Deno.test("while the connection waits lines are held as bytes, and decoded by the dialect spoken when they are read", () => {
  const { reader: r, read, state, texts } = reader();
  state.waiting = true;
  read('{"type":"hello"}\n', [...NI_HAO_GB, 0x0a], "plain\n");
  assert.deepEqual(state.lines, [], "nothing is read during the wait");
  // The hello made the connection JSON: its lines are UTF-8, never guessed.
  state.waiting = false;
  state.legacy = false;
  r.readHeld();
  assert.deepEqual(texts(), ['{"type":"hello"}', "plain"]);
  assert.deepEqual(state.refusals.map((refusal) => refusal.code), [
    "invalid_utf8",
  ]);
  assert.equal(r.charset.name, "utf-8");
  r.close();
});

Deno.test("a wait that begins while held lines are read stops the reading; the rest come after it, in order", () => {
  const { reader: r, read, state, texts } = reader();
  state.waiting = true;
  read("one\ntwo\nthree\n");
  state.afterLine = (text) => {
    if (text === "one") state.waiting = true;
  };
  state.waiting = false;
  r.readHeld();
  assert.deepEqual(texts(), ["one"]);
  read("four\n");
  state.waiting = false;
  r.readHeld();
  assert.deepEqual(texts(), ["one", "two", "three", "four"]);
  r.close();
});

Deno.test("once the connection reads no more, lines are dropped without a refusal; once closed, held lines are forgotten", () => {
  const dropped = reader();
  dropped.state.readsNoMore = true;
  dropped.read("guess\n", "a\0b\n");
  assert.deepEqual(dropped.state.lines, []);
  assert.deepEqual(dropped.state.refusals, []);
  dropped.reader.close();

  const closed = reader();
  closed.state.waiting = true;
  closed.read("held\n");
  closed.reader.close();
  closed.state.waiting = false;
  closed.reader.readHeld();
  assert.deepEqual(closed.state.lines, []);
});
