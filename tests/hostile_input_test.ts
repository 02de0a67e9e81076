/**
 * Hostile input against the real server process: oversized lines, bytes that
 * are not text, frames that are not frames, control sequences and look-alike
 * nicknames. Each test fails if its defence is removed.
 */

import assert from "node:assert/strict";
import {
  ERROR_MESSAGES,
  NICK_PROBLEM_MESSAGES,
  type ServerEvent,
} from "../protocol.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { assertSafe, joinText, rssKiB } from "./hostile_helpers.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;
type ErrorEvent = Extract<ServerEvent, { type: "error" }>;

const encoder = new TextEncoder();

function bytes(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) =>
    typeof p === "string" ? encoder.encode(p) : new Uint8Array(p)
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** A say frame padded with an ignored field to exactly `size` bytes. */
function sayOfSize(text: string, size: number): string {
  const bare = JSON.stringify({ type: "say", text, pad: "" });
  return JSON.stringify({
    type: "say",
    text,
    pad: "x".repeat(size - bare.length),
  });
}

async function nextError(client: TestClient): Promise<ErrorEvent> {
  return await client.waitFor((e) => e.type === "error") as ErrorEvent;
}

/** The next `msg` event, failing if any other msg came first. */
async function nextMsg(client: TestClient): Promise<Msg> {
  return await client.waitFor((e) => e.type === "msg") as Msg;
}

Deno.test("a line over 16 KiB gets too_long, the rest is discarded, the connection keeps working", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  const b = await TestClient.join(server.port, "bob");
  try {
    // Exactly at the limit is a frame; one byte more is not.
    a.client.write(sayOfSize("at the limit", 16 * 1024) + "\n");
    assert.equal((await nextMsg(b.client)).text, "at the limit");
    a.client.write(sayOfSize("over the limit", 16 * 1024 + 1) + "\n");
    assert.equal((await nextError(a.client)).code, "too_long");

    // A 1 MiB line arriving in pieces: one error, and none of it is a frame
    // even though its tail looks like one.
    const junk = "y".repeat(64 * 1024);
    for (let i = 0; i < 16; i++) await a.client.writeAll(junk);
    await a.client.writeAll('{"type":"say","text":"tail of the long line"}\n');
    a.client.send({ type: "say", text: "after" });
    assert.equal((await nextError(a.client)).code, "too_long");
    const skipped: ServerEvent[] = [];
    assert.equal(
      (await a.client.waitFor((e) => e.type === "msg", 5000, skipped) as Msg)
        .text,
      "after",
    );
    assert.deepEqual(skipped, [], "one error for the whole long line");
    assert.equal((await nextMsg(b.client)).text, "after");
  } finally {
    await Promise.all([a.client.close(), b.client.close()]);
    await server.stop();
  }
});

Deno.test("server memory does not grow with a line that never ends", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  try {
    a.client.send({ type: "ping" });
    await a.client.waitFor((e) => e.type === "pong");
    const before = rssKiB(server.pid);
    const chunk = new Uint8Array(256 * 1024).fill(0x7a);
    for (let i = 0; i < 128; i++) await a.client.writeAll(chunk); // 32 MiB
    a.client.write("\n");
    a.client.send({ type: "ping" });
    assert.equal((await nextError(a.client)).code, "too_long");
    await a.client.waitFor((e) => e.type === "pong");
    const after = rssKiB(server.pid);
    if (before !== undefined && after !== undefined) {
      assert.ok(
        after - before < 16 * 1024,
        `RSS grew ${after - before} KiB for a 32 MiB line`,
      );
    }
  } finally {
    await a.client.close();
    await server.stop();
  }
});

Deno.test("invalid UTF-8, NUL, bad JSON, wrong shapes and unknown types: an error each, nothing reaches others", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const a = await TestClient.join(server.port, "alice");
  const carol = await joinText(server.port, "carol");
  const b = await TestClient.join(server.port, "bob");
  const dave = await joinText(server.port, "dave");
  try {
    const jsonCases: [Uint8Array, string][] = [
      [bytes('{"type":"say","text":"', [0xff, 0xfe], '"}\n'), "invalid_utf8"],
      [bytes('{"type":"say","text":"', [0xc0, 0xaf], '"}\n'), "invalid_utf8"],
      [
        bytes('{"type":"say","text":"', [0xed, 0xa0, 0x80], '"}\n'),
        "invalid_utf8",
      ],
      [bytes('{"type":"say","text":"', [0xe4, 0xbd], '"}\n'), "invalid_utf8"],
      [bytes('{"type":"say","text":"a', [0], 'b"}\n'), "bad_text"],
      [bytes([0, 0, 0, 0x0a]), "bad_text"],
      [bytes("{not json\n"), "bad_json"],
      [bytes('{"type":"say","text":"cut off"\n'), "bad_json"],
      [bytes("[1,2,3]\n"), "bad_frame"],
      [bytes('"say"\n'), "bad_frame"],
      [bytes("null\n"), "bad_frame"],
      [bytes("42\n"), "bad_frame"],
      [bytes('{"type":"say"}\n'), "bad_frame"],
      [bytes('{"type":"say","text":["x"]}\n'), "bad_frame"],
      [bytes('{"type":"me","text":{"a":1}}\n'), "bad_frame"],
      [bytes('{"type":"dm","to":5,"text":"x"}\n'), "bad_frame"],
      [bytes('{"type":"launch","text":"x"}\n'), "unknown_type"],
      [bytes('{"type":null,"text":"x"}\n'), "unknown_type"],
      [bytes('{"text":"no type"}\n'), "unknown_type"],
      [bytes('{"type":"__proto__","text":"x"}\n'), "unknown_type"],
      [bytes('{"__proto__":{"type":"say"},"text":"x"}\n'), "unknown_type"],
      [bytes('{"type":"hello","nick":"again"}\n'), "already_joined"],
    ];
    for (const [line, code] of jsonCases) {
      await a.client.writeAll(line);
      const error = await nextError(a.client);
      assert.equal(error.code, code, new TextDecoder().decode(line));
      assert.equal(error.message.length > 0, true);
    }
    const textCases: [Uint8Array, string][] = [
      [bytes("caf", [0xe9], " au lait\n"), ERROR_MESSAGES.invalid_utf8],
      [bytes("nul", [0], "byte\n"), ERROR_MESSAGES.bad_text],
      // 0xFF with no telnet command after it (`FF FE FD` would be telnet's
      // IAC DONT 253, which the text door now reads as telnet).
      [bytes([0xc3, 0x28, 0xff, 0x0a]), ERROR_MESSAGES.invalid_utf8],
    ];
    for (const [line, wording] of textCases) {
      await carol.writeAll(line);
      assert.equal(await carol.waitForLine(/^! /), `! ${wording}`);
    }

    // Both connections still work, and the markers are the first messages
    // the others see: nothing above got through.
    a.client.send({ type: "say", text: "marker from alice" });
    carol.write("marker from carol\n");
    const seen = [
      (await nextMsg(b.client)).text,
      (await nextMsg(b.client)).text,
    ];
    assert.deepEqual(seen.sort(), ["marker from alice", "marker from carol"]);
    const daveLines: string[] = [];
    while (daveLines.filter((l) => l.includes("marker")).length < 2) {
      daveLines.push(await dave.nextLine());
    }
    const chatLines = daveLines.filter((l) => /^\d\d:\d\d [^*]/.test(l));
    assert.deepEqual(chatLines.map((l) => l.slice(6)).sort(), [
      "alice: marker from alice",
      "carol: marker from carol",
    ]);
  } finally {
    await Promise.all([
      a.client.close(),
      b.client.close(),
      carol.close(),
      dave.close(),
    ]);
    await server.stop();
  }
});

Deno.test("garbage before hello gets errors and the hello still works", async () => {
  const server = await ServerProcess.start();
  const client = await TestClient.connect(server.port);
  try {
    await client.nextLine(); // banner
    // Before the first line the dialect is unknown, so errors are text.
    await client.writeAll(bytes([0xff, 0xc3, 0x28, 0x0a]));
    assert.equal(await client.nextLine(), `! ${ERROR_MESSAGES.invalid_utf8}`);
    await client.writeAll(bytes([0x00, 0x01, 0x02, 0x0a]));
    assert.equal(await client.nextLine(), `! ${ERROR_MESSAGES.bad_text}`);
    client.send({ type: "hello", nick: "late" });
    const welcome = await client.waitFor((e) => e.type === "welcome");
    assert.equal(welcome.type === "welcome" && welcome.nick, "late");
  } finally {
    await client.close();
    await server.stop();
  }
});

Deno.test("control sequences and bidi overrides never reach another client, in either dialect", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const carol = await joinText(server.port, "carol");
  const bob = await TestClient.join(server.port, "bob");
  const dave = await joinText(server.port, "dave");
  const daveLines: string[] = [];
  const bobEvents: ServerEvent[] = [];
  try {
    const hostile = [
      "\x1b]0;pwned\x07title",
      "\x1b[2Jcleared",
      "\u202eevil",
      "tab\there",
      "\u009b31mcsi",
      "del\x7fete",
      "\u2066isolated\u2069",
      "bell\x07\x08\x0b\x0cand more",
      "\x1bPdcs\x1b\\",
    ];
    const cleaned = [
      "]0;pwnedtitle",
      "[2Jcleared",
      "evil",
      "tab here",
      "31mcsi",
      "delete",
      "isolated",
      "belland more",
      "Pdcs\\",
    ];
    for (const text of hostile) alice.client.send({ type: "say", text });
    alice.client.send({ type: "me", text: "\x1b[31mwaves\u202e" });
    alice.client.send({ type: "dm", to: "dave", text: "\x1b[2Jpsst" });
    alice.client.send({ type: "dm", to: "bob", text: "\u202epsst" });
    // JSON's own escapes decode to the same control characters.
    alice.client.write('{"type":"say","text":"esc\\u001b[2Jnul\\u0000end"}\n');
    for (const text of hostile) carol.write(text + "\n");
    carol.write("/me \x1b[31mwaves\u202e\n");
    carol.write("/msg bob \x1b]0;pwned\x07psst\n");

    const expected = [
      ...cleaned.map((t) => `alice: ${t}`),
      "* alice [31mwaves",
      "alice -> bob: psst",
      "alice: esc[2Jnulend",
      ...cleaned.map((t) => `carol: ${t}`),
      "* carol [31mwaves",
      "carol -> bob: ]0;pwnedpsst",
    ];
    while (
      bobEvents.filter((e) => e.type === "msg" || e.type === "dm").length <
        expected.length
    ) {
      bobEvents.push(
        await bob.client.waitFor((e) => e.type === "msg" || e.type === "dm"),
      );
    }
    const bobSaw = bobEvents.map((e) =>
      e.type === "msg"
        ? (e.me ? `* ${e.from} ${e.text}` : `${e.from}: ${e.text}`)
        : e.type === "dm"
        ? `${e.from} -> ${e.to}: ${e.text}`
        : ""
    );
    // Each sender's messages in its order; the two senders interleave.
    const from = (who: string) =>
      bobSaw.filter((l) => l.startsWith(who) || l.startsWith(`* ${who}`));
    assert.deepEqual(
      [...from("alice"), ...from("carol")],
      expected,
    );
    for (const line of bobSaw) assertSafe(line, "a message bob received");

    // The quit reason is shown to the room too.
    alice.client.send({ type: "quit", reason: "\x1b[2J\u202ebye" });
    carol.write("/quit \x1b]0;pwned\x07gone\n");
    const leaves: ServerEvent[] = [];
    while (leaves.length < 2) {
      leaves.push(await bob.client.waitFor((e) => e.type === "leave"));
    }
    for (const leave of leaves) {
      assertSafe(JSON.stringify(leave).replaceAll("\\", ""), "a leave event");
      assert.ok(leave.type === "leave");
      assertSafe(leave.reason ?? "", "a leave reason");
    }
    assert.deepEqual(leaves.map((l) => l.type === "leave" && l.reason), [
      "[2Jbye",
      "]0;pwnedgone",
    ]);

    // dave (text dialect) read the same traffic as raw lines.
    while (!daveLines.some((l) => l.includes("carol left"))) {
      daveLines.push(await dave.nextLine());
    }
    assert.ok(daveLines.some((l) => l.endsWith("alice: ]0;pwnedtitle")));
    assert.ok(
      daveLines.some((l) => l.endsWith("[private] alice -> dave: [2Jpsst")),
    );
    for (const line of daveLines) assertSafe(line, "a line dave received");
  } finally {
    await Promise.all([
      alice.client.close(),
      bob.client.close(),
      carol.close(),
      dave.close(),
    ]);
    await server.stop();
  }
});

Deno.test("a lone surrogate in JSON text becomes U+FFFD, the same in the live echo, a text member's line and the history replay", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  let server = await ServerProcess.start(["--db", db]);
  const alice = await TestClient.join(server.port, "alice");
  const text = await TestClient.connect(server.port);
  try {
    await text.nextLine();
    text.write("tess\n");
    await text.waitForLine(/^\* Welcome, tess!/);
    // Written by hand: JSON.stringify would escape it the same way, but this
    // is the line a hostile client sends. A high surrogate alone, a low one
    // alone, and a pair cut in half at the end.
    alice.client.write(
      '{"type":"say","text":"a\\ud800b\\udc00c\\ud83d"}\n',
    );
    const live = await nextMsg(alice.client);
    assert.equal(live.text, "a\ufffdb\ufffdc\ufffd");
    const line = await text.waitForLine(/alice: /);
    assert.ok(line.endsWith("alice: a\ufffdb\ufffdc\ufffd"), line);
  } finally {
    await Promise.all([alice.client.close(), text.close()]);
    await server.stop();
  }
  server = await ServerProcess.start(["--db", db]);
  try {
    const { client, welcome } = await TestClient.join(server.port, "later", {
      since: 0,
    });
    await client.close();
    assert.deepEqual(welcome.history.map((m) => m.text), [
      "a\ufffdb\ufffdc\ufffd",
    ]);
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("nicknames and rooms with control or bidi characters are refused", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  const probe = await TestClient.connect(server.port);
  const text = await TestClient.connect(server.port);
  try {
    await probe.nextLine();
    for (
      const nick of [
        "\u202eevil",
        "ev\x1bil",
        "bell\x07",
        "a\u2066b",
        "c1\u0085",
        "two words",
        "",
      ]
    ) {
      probe.send({ type: "hello", nick });
      assert.equal(
        (await nextError(probe)).code,
        "nick_invalid",
        JSON.stringify(nick),
      );
    }
    probe.send({ type: "hello", nick: "ok", room: "\x1b[2J" });
    assert.equal((await nextError(probe)).code, "room_invalid");

    await text.nextLine();
    text.write("\x1b[2Jmallory\n");
    assert.equal(await text.nextLine(), `! ${ERROR_MESSAGES.nick_invalid}`);
    assert.equal(await text.nextLine(), "Nickname?");

    a.client.send({ type: "nick", nick: "\u202eecila" });
    assert.equal((await nextError(a.client)).code, "nick_invalid");
    a.client.send({ type: "join", room: "\u202emoor" });
    assert.equal((await nextError(a.client)).code, "room_invalid");
    a.client.send({ type: "who" });
    const who = await a.client.waitFor((e) => e.type === "who");
    assert.deepEqual(who.type === "who" && who.users, ["alice"]);
  } finally {
    await Promise.all([a.client.close(), probe.close(), text.close()]);
    await server.stop();
  }
});

Deno.test("Alice, alice and ａｌｉｃｅ cannot be connected at once, and from cannot be forged", async () => {
  const server = await ServerProcess.start();
  const alice = await TestClient.join(server.port, "Alice");
  const bob = await TestClient.join(server.port, "bob");
  const probe = await TestClient.connect(server.port);
  const text = await TestClient.connect(server.port);
  try {
    await probe.nextLine();
    for (
      const nick of ["alice", "ALICE", "ａｌｉｃｅ", "Ａｌｉｃｅ", " alice "]
    ) {
      probe.send({ type: "hello", nick });
      assert.equal((await nextError(probe)).code, "nick_taken", nick);
    }
    await text.nextLine();
    text.write("ａｌｉｃｅ\n");
    assert.equal(await text.nextLine(), `! ${ERROR_MESSAGES.nick_taken}`);

    bob.client.send({ type: "nick", nick: "ａｌｉｃｅ" });
    assert.equal((await nextError(bob.client)).code, "nick_taken");

    bob.client.send({
      type: "say",
      text: "I am Alice",
      from: "Alice",
      nick: "Alice",
    });
    const msg = await nextMsg(alice.client);
    assert.equal(msg.from, "bob");

    // Once Alice leaves, the name is free in any form.
    await alice.client.close();
    await bob.client.waitFor((e) => e.type === "leave");
    probe.send({ type: "hello", nick: "ａｌｉｃｅ" });
    const welcome = await probe.waitFor((e) => e.type === "welcome");
    assert.equal(welcome.type === "welcome" && welcome.nick, "ａｌｉｃｅ");
  } finally {
    await Promise.all([
      alice.client.close(),
      bob.client.close(),
      probe.close(),
      text.close(),
    ]);
    await server.stop();
  }
});

Deno.test("look-alike, invisible and mixed-script nicknames are refused; 小明 and José join", async () => {
  const server = await ServerProcess.start();
  const alice = await TestClient.join(server.port, "alice");
  const probe = await TestClient.connect(server.port);
  const text = await TestClient.connect(server.port);
  try {
    await probe.nextLine();
    const refusal = async (nick: string) => {
      probe.send({ type: "hello", nick });
      return await nextError(probe);
    };
    // Looks like a connected member's name: taken, whatever else it is.
    for (
      const nick of [
        "\u0430lice", // Cyrillic а
        "\u0430l\u0456c\u0435", // Cyrillic а, і, е
        "ａｌｉｃｅ",
        "\u0410LICE", // Cyrillic А
      ]
    ) {
      assert.equal((await refusal(nick)).code, "nick_taken", nick);
    }
    // Invisible, fillers only, marks only, or scripts mixed: invalid, saying why.
    const invalid: [string, string][] = [
      ["alice\u3164", "invisible"],
      ["\u3164", "invisible"],
      ["\u115f\u1160", "invisible"],
      ["\uffa0bob", "invisible"],
      ["bo\u200bb", "invisible"],
      ["\u0301\u0301", "malformed"],
      ["_bob", "malformed"],
      ["b\u0301\u0301", "marks"],
      ["dogмяу", "mixed_scripts"],
    ];
    for (const [nick, problem] of invalid) {
      const error = await refusal(nick);
      assert.equal(error.code, "nick_invalid", JSON.stringify(nick));
      assert.equal(
        error.message,
        NICK_PROBLEM_MESSAGES[problem as keyof typeof NICK_PROBLEM_MESSAGES],
      );
    }
    // The text dialect says the same, then asks again.
    await text.nextLine();
    text.write("dogмяу\n");
    assert.equal(
      await text.nextLine(),
      "! nicknames may not mix scripts like Latin and Cyrillic",
    );
    assert.equal(await text.nextLine(), "Nickname?");
    text.write("\u0430lice\n");
    assert.equal(await text.nextLine(), `! ${ERROR_MESSAGES.nick_taken}`);
    assert.equal(await text.nextLine(), "Nickname?");
    // Renaming to a look-alike is refused too.
    alice.client.send({ type: "nick", nick: "alice\u3164" });
    assert.equal((await nextError(alice.client)).code, "nick_invalid");

    for (const nick of ["小明", "José", "Jose\u0301-2"]) {
      const { client, welcome } = await TestClient.join(server.port, nick);
      assert.equal(welcome.nick, nick);
      await client.close();
    }
    text.write("Иван\n");
    await text.waitForLine(/^\* Welcome, Иван!/);
    alice.client.send({ type: "who" });
    const who = await alice.client.waitFor((e) => e.type === "who");
    assert.deepEqual(who.type === "who" && who.users.sort(), ["alice", "Иван"]);
  } finally {
    await Promise.all([alice.client.close(), probe.close(), text.close()]);
    await server.stop();
  }
});
