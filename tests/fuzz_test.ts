/**
 * Bounded fuzzing, with a fixed seed printed so a failure replays:
 *
 * - in-process: random and mutated frames at the decoder (`LineSplitter`,
 *   `parseClientFrame`, `parseTypedLine`, `cleanText`), checked against
 *   simple reference models;
 * - live: random byte streams over real connections at a running server
 *   while well-behaved clients chat beside them.
 *
 * `CHAT_FUZZ_SEED` replays a seed; `CHAT_FUZZ_SECONDS` runs longer (the live
 * part gets that many seconds, the in-process part half of it).
 */

import assert from "node:assert/strict";
import {
  ERROR_MESSAGES,
  type LinePiece,
  LineSplitter,
  parseClientFrame,
} from "../protocol.ts";
import { parseTypedLine } from "../src/shared/commands.ts";
import { cleanText } from "../src/shared/sanitize.ts";
import { ServerProcess, TestClient } from "./helpers.ts";
import { assertSafe, joinText, rssKiB, sleep } from "./hostile_helpers.ts";

const SEED = Number(Deno.env.get("CHAT_FUZZ_SEED") ?? 0x5eed_c4a7) >>> 0;
const LIVE_SECONDS = Number(Deno.env.get("CHAT_FUZZ_SECONDS") ?? 3);
const DECODER_SECONDS = LIVE_SECONDS / 2;

console.log(
  `fuzz: seed ${SEED} (replay: CHAT_FUZZ_SEED=${SEED}), ` +
    `${DECODER_SECONDS} s in-process, ${LIVE_SECONDS} s live`,
);

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

const encoder = new TextEncoder();

// Bytes that matter to a line protocol and a terminal.
const INTERESTING_BYTES = [
  0x00,
  0x0a,
  0x0d,
  0x09,
  0x1b,
  0x07,
  0x7f,
  0x7b,
  0x7d,
  0x22,
  0x5c,
  0xc0,
  0xc3,
  0xe2,
  0xed,
  0xf0,
  0xf4,
  0xff,
  0x80,
  0xbf,
];

const INTERESTING_TEXT = [
  "\x1b]0;pwned\x07",
  "\x1b[2J",
  "\u202e",
  "\u2066",
  "\u009b",
  "\t",
  "\r",
  "\0",
  "你好",
  "👋🏽",
  "ａｌｉｃｅ",
  "\ud800",
  "\udfff",
  "e\u0301",
  "\u200b",
  "\ufeff",
  "/me ",
  "/nick ",
  "/msg ",
  "/join ",
  "/quit",
  "//",
  "{",
  '"}',
  "\\u0000",
  "\\ud800",
];

function randomBytes(random: Random, maxLength: number): Uint8Array {
  const bytes = new Uint8Array(random.int(maxLength + 1));
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = random.chance(0.3)
      ? random.pick(INTERESTING_BYTES)
      : random.int(256);
  }
  return bytes;
}

function randomText(random: Random, maxParts: number): string {
  let text = "";
  const parts = random.int(maxParts + 1);
  for (let i = 0; i < parts; i++) {
    const kind = random.int(4);
    if (kind === 0) text += random.pick(INTERESTING_TEXT);
    else if (kind === 1) text += String.fromCharCode(random.int(0x10000));
    else if (kind === 2) text += String.fromCodePoint(random.int(0x110000));
    else text += "abcdefghij klmnop"[random.int(17)];
  }
  return text;
}

function randomValue(random: Random, depth = 0): unknown {
  switch (random.int(depth > 2 ? 6 : 8)) {
    case 0:
      return randomText(random, 6);
    case 1:
      return random.pick([0, -1, 1.5, 1e308, -0, 2 ** 53, 2 ** 53 + 2, 42]);
    case 2:
      return random.pick([null, true, false]);
    case 3:
      return "";
    case 4:
      return "x".repeat(random.int(5000));
    case 5:
      return random.pick(["alice", "lobby", "hi", "__proto__", "constructor"]);
    case 6:
      return Array.from(
        { length: random.int(4) },
        () => randomValue(random, depth + 1),
      );
    default: {
      // No prototype: a "__proto__" key is then an own field, as in JSON.
      const object: Record<string, unknown> = Object.create(null);
      for (let i = random.int(4); i > 0; i--) {
        object[
          random.pick([
            "type",
            "text",
            "nick",
            "to",
            "room",
            "since",
            "__proto__",
            "x",
          ])
        ] = randomValue(random, depth + 1);
      }
      return object;
    }
  }
}

const FRAME_TYPES = [
  "hello",
  "say",
  "me",
  "dm",
  "nick",
  "join",
  "who",
  "rooms",
  "ping",
  "quit",
  "launch",
];

/** A frame that is valid, or nearly: right shape, random field values. */
function randomFrame(random: Random): string {
  const frame: Record<string, unknown> = { type: random.pick(FRAME_TYPES) };
  for (
    const field of ["text", "nick", "to", "room", "since", "password", "reason"]
  ) {
    if (random.chance(0.4)) {
      frame[field] = random.chance(0.7)
        ? randomText(random, 8)
        : randomValue(random);
    }
  }
  return JSON.stringify(frame);
}

/** One to four byte-level mutations of a line. */
function mutate(random: Random, line: Uint8Array): Uint8Array {
  let bytes = Array.from(line);
  for (let n = 1 + random.int(4); n > 0; n--) {
    const at = random.int(bytes.length + 1);
    switch (random.int(5)) {
      case 0:
        if (bytes.length > 0) bytes[at % bytes.length] ^= 1 << random.int(8);
        break;
      case 1:
        bytes.splice(at, 0, random.pick(INTERESTING_BYTES));
        break;
      case 2:
        bytes.splice(at, 1 + random.int(8));
        break;
      case 3:
        bytes.splice(
          at,
          0,
          ...bytes.slice(random.int(bytes.length + 1)).slice(0, 64),
        );
        break;
      default:
        bytes = bytes.slice(0, at);
    }
  }
  return new Uint8Array(bytes);
}

function randomLineBytes(random: Random): Uint8Array {
  switch (random.int(4)) {
    case 0:
      return randomBytes(random, 200);
    case 1:
      return encoder.encode(randomFrame(random));
    case 2:
      return mutate(random, encoder.encode(randomFrame(random)));
    default:
      return encoder.encode(randomText(random, 12));
  }
}

// ---------------------------------------------------------------------------
// In-process

/** What a line splitter must produce: the reference model, whole input. */
function referenceSplit(stream: Uint8Array, maxBytes: number) {
  const pieces: string[] = [];
  let start = 0;
  for (;;) {
    const newline = stream.indexOf(0x0a, start);
    if (newline === -1) break;
    let end = newline;
    if (end > start && stream[end - 1] === 0x0d) end--;
    pieces.push(
      end - start > maxBytes ? "too_long" : hex(stream.subarray(start, end)),
    );
    start = newline + 1;
  }
  // An unfinished line past the limit (and the `\r` it may still end in)
  // is reported at once, without waiting for its newline.
  const rest = stream.subarray(start);
  if (rest.length > maxBytes + 1) pieces.push("too_long");
  return { pieces, rest: rest.length > maxBytes + 1 ? undefined : rest };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function checkFrame(line: string): void {
  const result = parseClientFrame(line);
  if (!result.ok) {
    assert.ok(result.code in ERROR_MESSAGES, `unknown code ${result.code}`);
    return;
  }
  const f = result.frame as unknown as Record<string, unknown>;
  const isString = (v: unknown) => typeof v === "string";
  const optionalString = (v: unknown) => v === undefined || isString(v);
  switch (f.type) {
    case "hello":
      assert.ok(
        isString(f.nick) && optionalString(f.room) &&
          optionalString(f.password),
      );
      assert.ok(
        f.since === undefined ||
          (Number.isSafeInteger(f.since) && (f.since as number) >= 0),
      );
      break;
    case "say":
    case "me":
      assert.ok(isString(f.text));
      break;
    case "dm":
      assert.ok(isString(f.to) && isString(f.text));
      break;
    case "nick":
      assert.ok(isString(f.nick));
      break;
    case "join":
      assert.ok(isString(f.room));
      break;
    case "quit":
      assert.ok(optionalString(f.reason));
      break;
    case "who":
    case "rooms":
    case "ping":
      break;
    default:
      assert.fail(`accepted a frame of type ${String(f.type)}`);
  }
}

// What cleanText must remove, written out independently of src/shared/sanitize.ts.
// deno-lint-ignore no-control-regex
const UNSAFE_GLOBAL = new RegExp(
  "[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]",
  "g",
);

Deno.test(`fuzz: the decoder never throws and matches its reference models (seed ${SEED})`, () => {
  const random = new Random(SEED);
  const deadline = performance.now() + DECODER_SECONDS * 1000;
  let rounds = 0;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  while (performance.now() < deadline) {
    rounds++;
    // A stream of lines, fed in random chunks, through a small splitter.
    const maxBytes = 16 + random.int(96);
    const parts: Uint8Array[] = [];
    for (let i = random.int(12); i >= 0; i--) {
      parts.push(
        random.chance(0.15)
          ? randomBytes(random, maxBytes * 3)
          : randomLineBytes(random),
      );
      if (random.chance(0.85)) {
        parts.push(
          random.chance(0.2) ? encoder.encode("\r\n") : encoder.encode("\n"),
        );
      }
    }
    const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      stream.set(part, offset);
      offset += part.length;
    }
    const splitter = new LineSplitter(maxBytes);
    const pieces: string[] = [];
    const emit = (piece: LinePiece) => {
      pieces.push(piece.kind === "line" ? hex(piece.bytes) : "too_long");
      if (piece.kind === "line") {
        assert.ok(piece.bytes.length <= maxBytes, "a line within the limit");
        let line: string | undefined;
        try {
          line = decoder.decode(piece.bytes);
        } catch { /* not UTF-8: the server says invalid_utf8 */ }
        if (line !== undefined) {
          checkFrame(line);
          parseTypedLine(line);
        }
      }
    };
    for (let at = 0; at < stream.length;) {
      const size = 1 + random.int(random.chance(0.5) ? 8 : 200);
      splitter.push(stream.subarray(at, at + size), emit);
      at += size;
    }
    const expected = referenceSplit(stream, maxBytes);
    assert.deepEqual(pieces, expected.pieces, `seed ${SEED} round ${rounds}`);
    // The unfinished tail is held, within the limit, or dropped as too long.
    const rest = splitter.takePartial();
    assert.equal(
      hex(rest ?? new Uint8Array()),
      hex(expected.rest ?? new Uint8Array()),
    );

    // Text cleaning: nothing unsafe survives, idempotent, never grows,
    // and it is exactly "lone surrogates to U+FFFD, tabs to spaces, unsafe
    // characters removed".
    const text = randomText(random, 20);
    const clean = cleanText(text);
    assertSafe(clean.replaceAll(" ", ""), "cleaned text");
    assert.equal(cleanText(clean), clean);
    assert.ok(clean.length <= text.length);
    assert.ok(clean.isWellFormed(), "no lone surrogate survives");
    assert.equal(
      clean,
      text.toWellFormed().replaceAll("\t", " ").replace(UNSAFE_GLOBAL, ""),
    );

    // Mutated frames straight at the parser, unsplit.
    checkFrame(
      new TextDecoder().decode(
        mutate(random, encoder.encode(randomFrame(random))),
      ),
    );
  }
  console.log(`fuzz: ${rounds} in-process rounds`);
});

// ---------------------------------------------------------------------------
// Live

/** A well-behaved member: sends numbered messages, checks the others'. */
class Chatter {
  readonly nick: string;
  #send: (text: string) => void;
  #received: () => { from: string; text: string }[];
  sent = 0;

  constructor(
    nick: string,
    send: (text: string) => void,
    received: () => { from: string; text: string }[],
  ) {
    this.nick = nick;
    this.#send = send;
    this.#received = received;
  }

  say(): void {
    this.#send(`${this.nick}-${this.sent++}`);
  }

  /** Texts received from `other`, in order. */
  from(other: string): string[] {
    return this.#received().filter((m) => m.from === other).map((m) => m.text);
  }
}

async function jsonChatter(
  port: number,
  nick: string,
): Promise<{ chatter: Chatter; close: () => Promise<void> }> {
  const { client } = await TestClient.join(port, nick);
  const got: { from: string; text: string }[] = [];
  const chatter = new Chatter(
    nick,
    (text) => client.send({ type: "say", text }),
    () => {
      for (const event of client.drainEvents()) {
        assertSafe(
          JSON.stringify(event).replace(/\\[nrt"\\]|\\u00[01][0-9a-f]/g, ""),
          `a JSON event ${nick} received`,
        );
        if (event.type === "msg") {
          assertSafe(event.text, "msg text");
          got.push({ from: event.from, text: event.text });
        }
      }
      return got;
    },
  );
  return { chatter, close: () => client.close() };
}

async function textChatter(
  port: number,
  nick: string,
): Promise<{ chatter: Chatter; close: () => Promise<void> }> {
  const client = await joinText(port, nick);
  const got: { from: string; text: string }[] = [];
  const pending: string[] = [];
  const reading = (async () => {
    try {
      for (;;) pending.push(await client.nextLine(60_000));
    } catch { /* closed */ }
  })();
  const chatter = new Chatter(
    nick,
    (text) => client.write(text + "\n"),
    () => {
      for (const line of pending.splice(0)) {
        assertSafe(line, `a line ${nick} received`);
        const match = line.match(/^\d\d:\d\d ([^ :*]+): (.*)$/);
        if (match) got.push({ from: match[1], text: match[2] });
      }
      return got;
    },
  );
  return {
    chatter,
    close: async () => {
      await client.close();
      await reading;
    },
  };
}

/** One hostile connection: a random scenario, bounded in bytes and time. */
async function hostileConnection(
  port: number,
  random: Random,
  until: number,
): Promise<void> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return; // refused while full: fine
  }
  const reads = random.chance(0.8);
  const draining = reads
    ? (async () => {
      const buffer = new Uint8Array(65536);
      try {
        while ((await conn.read(buffer)) !== null) { /* discard */ }
      } catch { /* closed */ }
    })()
    : Promise.resolve();
  const write = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) {
      at += await conn.write(bytes.subarray(at, at + 1 + random.int(4096)));
    }
  };
  try {
    const scenario = random.int(6);
    if (scenario === 1 || scenario === 2) {
      // A member: JSON or text hello, then junk.
      const nick = `f${random.int(1e6)}`;
      await write(
        encoder.encode(
          scenario === 1
            ? JSON.stringify({ type: "hello", nick }) + "\n"
            : nick + "\n",
        ),
      );
    }
    const lines = 1 + random.int(60);
    for (let i = 0; i < lines && Date.now() < until; i++) {
      let bytes: Uint8Array;
      if (scenario === 3 && random.chance(0.1)) {
        bytes = randomBytes(random, 40_000); // likely an oversized line
      } else if (scenario === 2) {
        bytes = encoder.encode(randomText(random, 20));
      } else {
        bytes = randomLineBytes(random);
      }
      await write(bytes);
      if (random.chance(0.9)) await write(encoder.encode("\n"));
      if (random.chance(0.2)) await sleep(random.int(30));
    }
    if (scenario === 4) await sleep(random.int(300)); // half a line, then idle
  } catch { /* the server closed on us: fine */ }
  try {
    if (random.chance(0.5)) await conn.closeWrite();
    await sleep(random.int(50));
    conn.close();
  } catch { /* already closed */ }
  await draining;
}

Deno.test(`fuzz: random byte streams at a live server; it stays up and others keep chatting (seed ${SEED})`, async () => {
  // Every fuzzing connection comes from 127.0.0.1: no per-address limits.
  const server = await ServerProcess.start([
    "--handshake-seconds",
    "2",
    "--max-clients",
    "200",
    "--max-per-address",
    "0",
  ]);
  const good = [
    await jsonChatter(server.port, "good0"),
    await jsonChatter(server.port, "good1"),
    await textChatter(server.port, "good2"),
  ];
  try {
    const startRss = rssKiB(server.pid);
    let peakRss = startRss ?? 0;
    const until = Date.now() + LIVE_SECONDS * 1000;
    let connections = 0;
    const workers = Array.from({ length: 8 }, async (_, w) => {
      const random = new Random((SEED ^ Math.imul(w + 1, 0x9e3779b1)) >>> 0);
      while (Date.now() < until) {
        connections++;
        await hostileConnection(server.port, random, until);
      }
    });
    // The well-behaved chat beside them, well under the flood limit.
    const chatting = (async () => {
      while (Date.now() < until) {
        for (const { chatter } of good) chatter.say();
        peakRss = Math.max(peakRss, rssKiB(server.pid) ?? 0);
        await sleep(250);
      }
    })();
    await Promise.all([...workers, chatting]);

    // Every well-behaved message reached every other well-behaved member,
    // in order, and nothing unsafe reached them.
    const deadline = Date.now() + 10_000;
    for (const { chatter } of good) {
      for (const { chatter: other } of good) {
        const expected = Array.from(
          { length: other.sent },
          (_, i) => `${other.nick}-${i}`,
        );
        while (
          chatter.from(other.nick).length < other.sent && Date.now() < deadline
        ) {
          await sleep(20);
        }
        assert.deepEqual(
          chatter.from(other.nick),
          expected,
          `${chatter.nick} from ${other.nick}`,
        );
      }
    }

    // Still serving.
    const late = await TestClient.join(server.port, "late");
    late.client.send({ type: "ping" });
    await late.client.waitFor((e) => e.type === "pong");
    await late.client.close();

    console.log(
      `fuzz: ${connections} hostile connections; server RSS ${startRss} KiB at start, peak ${peakRss} KiB`,
    );
    if (startRss !== undefined) {
      assert.ok(
        peakRss < startRss + 200 * 1024,
        `RSS peaked at ${peakRss} KiB`,
      );
    }
  } finally {
    await Promise.all(good.map((g) => g.close()));
    const status = await server.stop();
    assert.equal(
      status.code,
      0,
      "the server was still running and stopped cleanly",
    );
    assert.doesNotMatch(
      server.log,
      /Uncaught|Unhandled|panicked|error: |\n\s+at \S+:\d+:\d+/,
      "no uncaught error or stack trace in the server's stderr",
    );
  }
});
