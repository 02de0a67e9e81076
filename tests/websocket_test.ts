/**
 * The RFC 6455 framer: the RFC's own examples (section 1.3's accept key and
 * section 5.7's frames), round trips of random messages cut into random
 * fragments and chunks, and every way a peer can break the protocol.
 */

import assert from "node:assert/strict";
import {
  acceptKey,
  CloseCode,
  closePayload,
  encodeFrame,
  encodeTextFrames,
  frameLines,
  isValidKey,
  MessageReader,
  Opcode,
  type WebSocketEvent,
} from "../src/server/doors/web/websocket.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const hex = (...values: number[]) => new Uint8Array(values);
const MASK = hex(0x37, 0xfa, 0x21, 0x3d);

/** Reads `chunks` with a fresh reader and returns what it emitted. */
function read(
  chunks: Uint8Array[],
  options: { maxMessageBytes?: number; expectMasked?: boolean } = {},
): WebSocketEvent[] {
  const reader = new MessageReader({
    maxMessageBytes: options.maxMessageBytes ?? 16 * 1024,
    expectMasked: options.expectMasked ?? true,
  });
  const events: WebSocketEvent[] = [];
  for (const chunk of chunks) reader.push(chunk, (e) => events.push(e));
  return events;
}

function texts(events: WebSocketEvent[]): string[] {
  return events.map((e) =>
    e.kind === "text" ? decoder.decode(e.data) : `<${e.kind}>`
  );
}

function failure(events: WebSocketEvent[]): number | undefined {
  const last = events[events.length - 1];
  return last?.kind === "fail" ? last.code : undefined;
}

Deno.test("the accept key of RFC 6455 section 1.3", async () => {
  assert.equal(
    await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
  assert.equal(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="), true);
  assert.equal(isValidKey("dGhlIHNhbXBsZQ=="), false); // 11 bytes.
  assert.equal(isValidKey("not base64 at all!!!!!=="), false);
});

Deno.test("section 5.7: the unmasked and masked 'Hello' frames", () => {
  const unmasked = hex(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
  const masked = hex(
    0x81,
    0x85,
    0x37,
    0xfa,
    0x21,
    0x3d,
    0x7f,
    0x9f,
    0x4d,
    0x51,
    0x58,
  );
  assert.deepEqual(encodeFrame(Opcode.text, encoder.encode("Hello")), unmasked);
  assert.deepEqual(
    encodeFrame(Opcode.text, encoder.encode("Hello"), { mask: MASK }),
    masked,
  );
  assert.deepEqual(texts(read([masked])), ["Hello"]);
  assert.deepEqual(texts(read([unmasked], { expectMasked: false })), ["Hello"]);
});

Deno.test("section 5.7: a fragmented 'Hello', and ping and pong", () => {
  const fragments = [
    hex(0x01, 0x03, 0x48, 0x65, 0x6c),
    hex(0x80, 0x02, 0x6c, 0x6f),
  ];
  assert.deepEqual(texts(read(fragments, { expectMasked: false })), ["Hello"]);
  const ping = hex(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
  assert.deepEqual(encodeFrame(Opcode.ping, encoder.encode("Hello")), ping);
  const pong = hex(
    0x8a,
    0x85,
    0x37,
    0xfa,
    0x21,
    0x3d,
    0x7f,
    0x9f,
    0x4d,
    0x51,
    0x58,
  );
  const events = read([pong]);
  assert.equal(events[0].kind, "pong");
  if (events[0].kind === "pong") {
    assert.equal(decoder.decode(events[0].payload), "Hello");
  }
});

Deno.test("section 5.7: 256 bytes take a 16-bit length, 64 KiB a 64-bit one", () => {
  const mid = encodeFrame(Opcode.binary, new Uint8Array(256));
  assert.deepEqual(mid.subarray(0, 4), hex(0x82, 0x7e, 0x01, 0x00));
  assert.equal(mid.length, 4 + 256);
  const big = encodeFrame(Opcode.binary, new Uint8Array(65536));
  assert.deepEqual(
    big.subarray(0, 10),
    hex(0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00),
  );
  // And they read back, masked, at the boundaries of each form.
  for (const length of [0, 125, 126, 65535, 65536]) {
    const text = "x".repeat(length);
    const frame = encodeFrame(Opcode.text, encoder.encode(text), {
      mask: MASK,
    });
    assert.deepEqual(texts(read([frame], { maxMessageBytes: 70000 })), [text]);
  }
});

Deno.test("a control frame between fragments is handled without breaking the message", () => {
  const events = read([
    encodeFrame(Opcode.text, encoder.encode("你好"), {
      fin: false,
      mask: MASK,
    }),
    encodeFrame(Opcode.ping, encoder.encode("p"), { mask: MASK }),
    encodeFrame(Opcode.continuation, encoder.encode("👋"), { mask: MASK }),
  ]);
  assert.deepEqual(texts(events), ["<ping>", "你好👋"]);
});

/** A tiny seeded random generator, so a failure can be replayed. */
function randomness(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

Deno.test("random messages in random fragments, masks and chunks read back exactly", () => {
  const random = randomness(20261201);
  const alphabet = [
    "a",
    "Z",
    " ",
    "你",
    "好",
    "👋",
    "é",
    "\u0000",
    "\n",
    "{",
    '"',
  ];
  for (let round = 0; round < 200; round++) {
    const messages: string[] = [];
    const frames: Uint8Array[] = [];
    for (let m = 0; m < 1 + Math.floor(random() * 5); m++) {
      let text = "";
      const length = Math.floor(random() ** 3 * 3000);
      for (let i = 0; i < length; i++) {
        text += alphabet[Math.floor(random() * alphabet.length)];
      }
      messages.push(text);
      const payload = encoder.encode(text);
      // Cut anywhere, even inside a character: UTF-8 is checked across cuts.
      const cuts = [0];
      while (random() < 0.5 && cuts.length < 6) {
        cuts.push(Math.floor(random() * (payload.length + 1)));
      }
      cuts.sort((a, b) => a - b);
      cuts.push(payload.length);
      for (let f = 0; f + 1 < cuts.length; f++) {
        const mask = hex(...[0, 1, 2, 3].map(() => Math.floor(random() * 256)));
        frames.push(encodeFrame(
          f === 0 ? Opcode.text : Opcode.continuation,
          payload.subarray(cuts[f], cuts[f + 1]),
          { fin: f + 2 === cuts.length, mask },
        ));
        if (random() < 0.2) {
          frames.push(encodeFrame(Opcode.ping, new Uint8Array(0), { mask }));
        }
      }
    }
    const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const frame of frames) {
      stream.set(frame, at);
      at += frame.length;
    }
    const chunks: Uint8Array[] = [];
    for (let start = 0; start < stream.length;) {
      const size = 1 + Math.floor(random() ** 2 * 2000);
      chunks.push(stream.subarray(start, start + size));
      start += size;
    }
    const got = texts(read(chunks)).filter((t) => t !== "<ping>");
    assert.deepEqual(got, messages, `round ${round}`);
  }
});

Deno.test("server frames of many texts in one buffer read back in order", () => {
  const payloads = ["a", "b".repeat(200), "c".repeat(70000), "你好"].map((t) =>
    encoder.encode(t)
  );
  const events = read([encodeTextFrames(payloads)], {
    expectMasked: false,
    maxMessageBytes: 1 << 20,
  });
  assert.deepEqual(texts(events).map((t) => t.length), [1, 200, 70000, 2]);
});

Deno.test("frameLines makes one text frame per non-empty line and leaves the unfinished rest", () => {
  const text = `a\n\n${"b".repeat(200)}\n${
    "c".repeat(70000)
  }\n你好\nunfinished`;
  const bytes = encoder.encode(text);
  const { frames, consumed } = frameLines(bytes);
  const events = read([frames], {
    expectMasked: false,
    maxMessageBytes: 1 << 20,
  });
  assert.deepEqual(texts(events), [
    "a",
    "b".repeat(200),
    "c".repeat(70000),
    "你好",
  ]);
  assert.equal(decoder.decode(bytes.subarray(consumed)), "unfinished");
  // The same frames as framing each line on its own.
  assert.deepEqual(
    frames,
    encodeTextFrames(
      ["a", "b".repeat(200), "c".repeat(70000), "你好"].map((t) =>
        encoder.encode(t)
      ),
    ),
  );
  assert.deepEqual(frameLines(encoder.encode("no newline")), {
    frames: new Uint8Array(0),
    consumed: 0,
  });
});

Deno.test("a message over the limit fails with 1009 on its header, before its payload", () => {
  const header = encodeFrame(Opcode.text, new Uint8Array(16 * 1024 + 1), {
    mask: MASK,
  }).subarray(0, 8);
  assert.equal(failure(read([header])), CloseCode.tooBig);
  // Fragments count together.
  const events = read([
    encodeFrame(Opcode.text, new Uint8Array(10_000), {
      fin: false,
      mask: MASK,
    }),
    encodeFrame(Opcode.continuation, new Uint8Array(10_000), { mask: MASK }),
  ]);
  assert.equal(failure(events), CloseCode.tooBig);
  // Exactly at the limit is fine.
  const exact = encodeFrame(Opcode.text, new Uint8Array(16 * 1024), {
    mask: MASK,
  });
  assert.equal(read([exact])[0].kind, "text");
});

Deno.test("text that is not UTF-8 fails with 1007, even split across fragments", () => {
  const bad = hex(0xc3, 0x28);
  assert.equal(
    failure(read([encodeFrame(Opcode.text, bad, { mask: MASK })])),
    CloseCode.invalidData,
  );
  // A character cut between fragments is fine; one never finished is not.
  const euro = encoder.encode("€");
  const split = read([
    encodeFrame(Opcode.text, euro.subarray(0, 1), { fin: false, mask: MASK }),
    encodeFrame(Opcode.continuation, euro.subarray(1), { mask: MASK }),
  ]);
  assert.deepEqual(texts(split), ["€"]);
  const unfinished = encodeFrame(Opcode.text, euro.subarray(0, 2), {
    mask: MASK,
  });
  assert.equal(failure(read([unfinished])), CloseCode.invalidData);
  // A lone surrogate's encoding (CESU) is not UTF-8 either.
  const surrogate = hex(0xed, 0xa0, 0x80);
  assert.equal(
    failure(read([encodeFrame(Opcode.text, surrogate, { mask: MASK })])),
    CloseCode.invalidData,
  );
});

Deno.test("protocol errors fail with 1002, binary with 1003", () => {
  const cases: [string, Uint8Array[], number][] = [
    ["an unmasked client frame", [
      encodeFrame(Opcode.text, encoder.encode("x")),
    ], 1002],
    ["a reserved bit", [hex(0xc1, 0x80, 1, 2, 3, 4)], 1002],
    ["an unknown data opcode", [hex(0x83, 0x80, 1, 2, 3, 4)], 1002],
    ["an unknown control opcode", [hex(0x8b, 0x80, 1, 2, 3, 4)], 1002],
    ["a fragmented ping", [hex(0x09, 0x80, 1, 2, 3, 4)], 1002],
    ["a long ping", [
      encodeFrame(Opcode.ping, new Uint8Array(126), { mask: MASK }),
    ], 1002],
    ["a continuation first", [
      encodeFrame(Opcode.continuation, encoder.encode("x"), { mask: MASK }),
    ], 1002],
    [
      "a new message inside a fragmented one",
      [
        encodeFrame(Opcode.text, encoder.encode("a"), {
          fin: false,
          mask: MASK,
        }),
        encodeFrame(Opcode.text, encoder.encode("b"), { mask: MASK }),
      ],
      1002,
    ],
    [
      "a one-byte close",
      [encodeFrame(Opcode.close, hex(3), { mask: MASK })],
      1002,
    ],
    ["close code 1005", [
      encodeFrame(Opcode.close, closePayload(1005), { mask: MASK }),
    ], 1002],
    ["close code 999", [
      encodeFrame(Opcode.close, closePayload(999), { mask: MASK }),
    ], 1002],
    ["a binary message", [
      encodeFrame(Opcode.binary, hex(1, 2), { mask: MASK }),
    ], 1003],
    ["a 64-bit length with its top bit set", [
      hex(0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4),
    ], 1002],
  ];
  for (const [what, chunks, code] of cases) {
    assert.equal(failure(read(chunks)), code, what);
  }
});

Deno.test("a close frame gives its code and reason; nothing after it is read", () => {
  const events = read([
    encodeFrame(Opcode.close, closePayload(1001, "bye 👋"), { mask: MASK }),
    encodeFrame(Opcode.text, encoder.encode("late"), { mask: MASK }),
  ]);
  assert.deepEqual(events, [{ kind: "close", code: 1001, reason: "bye 👋" }]);
  assert.deepEqual(
    read([encodeFrame(Opcode.close, new Uint8Array(0), { mask: MASK })]),
    [
      { kind: "close", reason: "" },
    ],
  );
  const badReason = new Uint8Array([0x03, 0xe8, 0xff]);
  assert.equal(
    failure(read([encodeFrame(Opcode.close, badReason, { mask: MASK })])),
    CloseCode.invalidData,
  );
});

Deno.test("a close reason is cut to fit a control frame, on a character boundary", () => {
  const payload = closePayload(1000, "好".repeat(100));
  assert.ok(payload.length <= 125);
  assert.equal((payload[0] << 8) | payload[1], 1000);
  const reason = new TextDecoder("utf-8", { fatal: true }).decode(
    payload.subarray(2),
  );
  assert.equal(reason, "好".repeat(41));
});
