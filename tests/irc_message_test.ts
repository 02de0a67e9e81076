import assert from "node:assert/strict";
import { commandOf } from "../src/server/doors/irc/irc_dialect.ts";
import {
  formatIrcMessage,
  parseIrcLine,
  splitForIrc,
  utf8ByteLength,
} from "../src/server/doors/irc/irc_message.ts";
import {
  type IrcCapability,
  namesLines,
  renderIrc,
} from "../src/server/doors/irc/irc_render.ts";

Deno.test("an IRC line parses into tags, prefix, command and params", () => {
  assert.deepEqual(
    parseIrcLine(
      "@msgid=7;time=2026-12-01T10:00:00.000Z :alice!a@h PRIVMSG #lobby :hi there",
    ),
    {
      tags: { msgid: "7", time: "2026-12-01T10:00:00.000Z" },
      prefix: "alice!a@h",
      command: "PRIVMSG",
      params: ["#lobby", "hi there"],
    },
  );
  assert.deepEqual(parseIrcLine("nick  bob"), {
    command: "NICK",
    params: ["bob"],
  });
  assert.deepEqual(parseIrcLine("USER a 0 * :Real Name"), {
    command: "USER",
    params: ["a", "0", "*", "Real Name"],
  });
  assert.deepEqual(parseIrcLine("PRIVMSG #a ::-)"), {
    command: "PRIVMSG",
    params: ["#a", ":-)"],
  });
  assert.equal(parseIrcLine(""), undefined);
  assert.equal(parseIrcLine(":prefix-only"), undefined);
});

Deno.test("tag values are escaped and unescaped both ways", () => {
  const line = formatIrcMessage({
    tags: { label: "a b;c\\d" },
    command: "PING",
    params: ["x"],
  });
  assert.equal(line, "@label=a\\sb\\:c\\\\d PING x\r\n");
  assert.deepEqual(parseIrcLine(line.trimEnd())?.tags, { label: "a b;c\\d" });
});

Deno.test("the last parameter gets a colon when it needs one, and always for a message's text", () => {
  assert.equal(
    formatIrcMessage({ command: "JOIN", params: ["#a"] }),
    "JOIN #a\r\n",
  );
  assert.equal(
    formatIrcMessage({ command: "PRIVMSG", params: ["#a", "hi"] }),
    "PRIVMSG #a :hi\r\n",
    "a message's text always gets its colon",
  );
  assert.equal(
    formatIrcMessage({ command: "PRIVMSG", params: ["#a", "hi all"] }),
    "PRIVMSG #a :hi all\r\n",
  );
  assert.equal(
    formatIrcMessage({ command: "PRIVMSG", params: ["#a", ""] }),
    "PRIVMSG #a :\r\n",
  );
});

Deno.test("a long text is split at character boundaries within the byte cap", () => {
  const text = "你好世界🙂".repeat(100); // 3- and 4-byte characters
  const pieces = splitForIrc(text, 100);
  assert.equal(pieces.join(""), text);
  for (const piece of pieces) {
    assert.ok(new TextEncoder().encode(piece).length <= 100);
    assert.ok(!piece.includes("\ufffd"));
  }
  const words = splitForIrc("word ".repeat(50).trim(), 42);
  assert.equal(words.join(""), "word ".repeat(50).trim());
  for (const piece of words.slice(0, -1)) assert.ok(piece.endsWith(" "));
});

const view = (caps: IrcCapability[] = []) => ({
  server: "chat",
  nick: "bob",
  caps: new Set(caps),
});

Deno.test("a room message is a PRIVMSG to its channel, /me a CTCP ACTION", () => {
  const msg = {
    type: "msg",
    id: 5,
    ts: 0,
    room: "lobby",
    from: "alice",
    text: "你好",
  } as const;
  assert.equal(
    renderIrc(msg, view()),
    ":alice!alice@chat PRIVMSG #lobby :你好\r\n",
  );
  assert.equal(
    renderIrc({ ...msg, me: true }, view()),
    ":alice!alice@chat PRIVMSG #lobby :\x01ACTION 你好\x01\r\n",
  );
  assert.equal(
    renderIrc(msg, view(["server-time", "message-tags"])),
    "@time=1970-01-01T00:00:00.000Z;msgid=5 :alice!alice@chat PRIVMSG #lobby :你好\r\n",
  );
});

Deno.test("a message too long for one IRC line becomes several, each within 512 bytes", () => {
  const text = "长".repeat(4000);
  const lines = renderIrc(
    { type: "msg", id: 1, ts: 0, room: "lobby", from: "alice", text },
    view(),
  ).split("\r\n").filter((l) => l !== "");
  assert.ok(lines.length > 20);
  let joined = "";
  for (const line of lines) {
    assert.ok(
      new TextEncoder().encode(line + "\r\n").length <= 512,
      line.length + "",
    );
    joined += parseIrcLine(line)!.params[1];
  }
  assert.equal(joined, text);
});

Deno.test("a text's UTF-8 length is counted without encoding it, surrogate pairs as one character", () => {
  for (const text of ["", "alice", "é", "你好", "👋", "a你👋b", "\ud800"]) {
    assert.equal(
      utf8ByteLength(text),
      new TextEncoder().encode(text).length,
      JSON.stringify(text),
    );
  }
});

Deno.test("NAMES of a big room fills each 353 line up to 512 bytes and names everyone once, in order", () => {
  const users = Array.from(
    { length: 3000 },
    (_, i) => i % 3 === 0 ? `学生${i}` : `member-${i}`,
  );
  const view = { server: "chat", nick: "bob", caps: new Set<IrcCapability>() };
  const lines = namesLines(view, "lobby", users).split("\r\n");
  assert.equal(lines.pop(), "");
  assert.equal(lines.pop(), ":chat 366 bob #lobby :End of /NAMES list.");
  const named: string[] = [];
  for (const line of lines) {
    assert.match(line, /^:chat 353 bob = #lobby :/);
    const bytes = new TextEncoder().encode(line + "\r\n").length;
    assert.ok(bytes <= 512, `${bytes} bytes`);
    // Full: one more name would not have fitted.
    if (line !== lines.at(-1)) assert.ok(bytes > 512 - 20, `${bytes} bytes`);
    named.push(...line.slice(line.indexOf(" :") + 2).split(" "));
  }
  assert.deepEqual(named, users);
});

Deno.test("the command of a line that is not UTF-8 is read past its tags and prefix, for its FAIL", () => {
  const line = (text: string, bad = [0xc4, 0xe3]) =>
    new Uint8Array([...new TextEncoder().encode(text), ...bad]);
  assert.equal(commandOf(line("PRIVMSG #lobby :")), "PRIVMSG");
  assert.equal(commandOf(line("@label=x :bob!b@h privmsg bob :")), "PRIVMSG");
  assert.equal(commandOf(line("TOPIC #lobby :")), "TOPIC");
  // No command to name: the bad bytes are where it would be, or nothing is.
  assert.equal(commandOf(line("")), "*");
  assert.equal(commandOf(line("@tags-only")), "*");
});
