/**
 * Talking like a real group, against the real server over real sockets, in
 * JSON and the text dialect: multi-line messages, replies with their quote,
 * `@nick` mentions (also of a member whose current room is another), the
 * daily `@all` cap, and search, in Chinese too, over history from before a
 * restart.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { joinText } from "./hostile_helpers.ts";

type SearchEvent = Extract<ServerEvent, { type: "search" }>;

const isMsg = (text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.text === text;
const isError = (e: ServerEvent) => e.type === "error";

Deno.test("a multi-line message keeps its line breaks in JSON, loses \\r, and the text dialect indents its further lines", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const viewer = await joinText(server.port, "carol");
  try {
    alice.client.send({ type: "say", text: "first line\r\nsecond\n  third" });
    const got = await alice.client.waitFor((e) => e.type === "msg");
    assert.equal((got as RoomMessage).text, "first line\nsecond\n  third");
    const first = await viewer.waitForLine(/alice: first line$/);
    const indent = " ".repeat(first.indexOf("first line"));
    assert.equal(await viewer.nextLine(), `${indent}second`);
    assert.equal(await viewer.nextLine(), `${indent}  third`);

    // A member of another room sees nothing; too many lines are refused whole.
    alice.client.send({
      type: "say",
      text: Array.from({ length: 51 }, (_, i) => `l${i}`).join("\n"),
    });
    const refused = await alice.client.waitFor(isError);
    assert.equal(refused.type === "error" && refused.code, "too_many_lines");
    // nc users still send one line per message: a line is a message.
    viewer.write("one\ntwo\n");
    await alice.client.waitFor(isMsg("one"));
    await alice.client.waitFor(isMsg("two"));
  } finally {
    alice.client.close();
    viewer.close();
    await server.stop();
  }
});

Deno.test("a reply carries the original's id and quote in JSON; the text dialect shows the quote on one line", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const viewer = await joinText(server.port, "carol");
  try {
    const question =
      "did you push the homework for tomorrow's maths class yet?";
    alice.client.send({ type: "say", text: question });
    const original = await bob.client.waitFor(isMsg(question)) as RoomMessage;
    bob.client.send({ type: "say", text: "yes", reply_to: original.id });
    const reply = await alice.client.waitFor(isMsg("yes")) as RoomMessage;
    assert.equal(reply.reply_to, original.id);
    assert.deepEqual(reply.quote, {
      id: original.id,
      from: "alice",
      text: [...question].slice(0, 49).join("") + "…",
    });
    const quoted = await viewer.waitForLine(/bob: ↪ alice: ".*" yes$/);
    assert.ok(
      quoted.endsWith(`bob: ↪ alice: "${reply.quote!.text}" yes`),
      quoted,
    );
    assert.match(reply.quote!.text, /^did you push the homework .*…$/);
    // The history replays the reply with its quote.
    const late = await TestClient.join(server.port, "dave");
    const replayed = late.welcome.history.find((m) => m.text === "yes");
    assert.equal(replayed?.quote?.from, "alice");
    late.client.close();

    bob.client.send({ type: "say", text: "to nothing", reply_to: 999_999 });
    const refused = await bob.client.waitFor(isError);
    assert.equal(refused.type === "error" && refused.code, "no_such_message");
    // A reply must answer a message of the same room.
    bob.client.send({ type: "join", room: "other" });
    await bob.client.waitFor((e) => e.type === "welcome");
    bob.client.send({ type: "say", text: "x", reply_to: original.id });
    const elsewhere = await bob.client.waitFor(isError);
    assert.equal(
      elsewhere.type === "error" && elsewhere.code,
      "no_such_message",
    );
  } finally {
    alice.client.close();
    bob.client.close();
    viewer.close();
    await server.stop();
  }
});

Deno.test("@nick names a room member in `mentions`, also one whose current room is another; others and strangers are left out", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice", { room: "class" });
  const bob = await TestClient.join(server.port, "bob", { room: "class" });
  const outsider = await TestClient.join(server.port, "zed");
  const viewer = await joinText(server.port, "carol");
  try {
    // bob moves on to the lobby: class is no longer his current room.
    bob.client.send({ type: "join", room: "lobby" });
    await bob.client.waitFor((e) => e.type === "welcome" && e.room === "lobby");
    viewer.write("/join class\n");
    await viewer.waitForLine(/Now in class/);
    viewer.write("/join lobby\n");
    await viewer.waitForLine(/Now in lobby|You are in lobby|in lobby/);

    const text = "@Bob @zed @nobody look at this, mail me@example.org";
    alice.client.send({ type: "say", text });
    const got = await bob.client.waitFor(isMsg(text)) as RoomMessage;
    assert.equal(got.room, "class");
    assert.deepEqual(got.mentions, ["bob"], "zed is not in class");
    assert.equal(got.all, undefined);
    // carol's current room is the lobby: the class line names its room.
    await viewer.waitForLine(/\[class\] alice: @Bob @zed/);
  } finally {
    alice.client.close();
    bob.client.close();
    outsider.client.close();
    viewer.close();
    await server.stop();
  }
});

Deno.test("@all reaches everyone with `all: true`, at most --max-at-all-per-day times a day per room", async () => {
  const server = await ServerProcess.start([
    "--rate",
    "0",
    "--max-at-all-per-day",
    "2",
  ]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const viewer = await joinText(server.port, "carol");
  try {
    for (const text of ["@all one", "@全体成员 two"]) {
      alice.client.send({ type: "say", text });
      const got = await bob.client.waitFor(isMsg(text)) as RoomMessage;
      assert.equal(got.all, true);
    }
    viewer.write("@all three\n");
    await viewer.waitForLine(/^! @all may be used 2 times a day/);
    alice.client.send({ type: "say", text: "@all four" });
    const refused = await alice.client.waitFor(isError);
    assert.equal(refused.type === "error" && refused.code, "at_all_limit");
    // Another room has its own count; plain messages are not held back.
    alice.client.send({ type: "say", text: "no call" });
    await bob.client.waitFor(isMsg("no call"));
    alice.client.send({ type: "join", room: "other" });
    await alice.client.waitFor((e) => e.type === "welcome");
    alice.client.send({ type: "say", text: "@all elsewhere" });
    const other = await alice.client.waitFor(isMsg("@all elsewhere"));
    assert.equal((other as RoomMessage).all, true);
    assert.deepEqual(
      bob.client.drainEvents().filter((e) =>
        e.type === "msg" && e.text.includes("three")
      ),
      [],
      "a refused @all reached no one",
    );
  } finally {
    alice.client.close();
    bob.client.close();
    viewer.close();
    await server.stop();
  }
});

Deno.test("search finds 作业 (two characters) and longer words in history from before a restart, only in the member's rooms, newest first", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  let server = await ServerProcess.start(["--rate", "0", "--db", db]);
  try {
    const alice = await TestClient.join(server.port, "alice");
    const spy = await TestClient.join(server.port, "spy", { room: "secret" });
    for (
      const text of [
        "今天的数学作业是第三页",
        "homework: page 3",
        "明天交作业吗？",
        "unrelated",
      ]
    ) {
      alice.client.send({ type: "say", text });
      await alice.client.waitFor(isMsg(text));
    }
    spy.client.send({ type: "say", text: "秘密作业" });
    await spy.client.waitFor(isMsg("秘密作业"));
    alice.client.close();
    spy.client.close();
    await server.stop();

    server = await ServerProcess.start(["--rate", "0", "--db", db]);
    const bob = await TestClient.join(server.port, "bob");
    bob.client.send({ type: "search", text: "作业" });
    const found = await bob.client.waitFor((e) =>
      e.type === "search"
    ) as SearchEvent;
    assert.deepEqual(
      found.results.map((r) => `${r.room}/${r.from}: ${r.text}`),
      ["lobby/alice: 明天交作业吗？", "lobby/alice: 今天的数学作业是第三页"],
      "newest first, and not the secret room's",
    );
    assert.ok(found.results.every((r) => r.ts > 0 && r.id > 0));

    bob.client.send({ type: "search", text: "数学作业" });
    const long = await bob.client.waitFor((e) =>
      e.type === "search"
    ) as SearchEvent;
    assert.deepEqual(long.results.map((r) => r.text), [
      "今天的数学作业是第三页",
    ]);
    bob.client.send({ type: "search", text: "HOMEWORK page" });
    const english = await bob.client.waitFor((e) =>
      e.type === "search"
    ) as SearchEvent;
    assert.deepEqual(english.results.map((r) => r.text), ["homework: page 3"]);
    bob.client.send({ type: "search", text: "x", room: "secret" });
    const refused = await bob.client.waitFor(isError);
    assert.equal(refused.type === "error" && refused.code, "not_in_room");

    const viewer = await joinText(server.port, "carol");
    viewer.write("/search 作业\n");
    await viewer.waitForLine(/^\* Search "作业": 2 found, newest first:/);
    assert.match(
      await viewer.nextLine(),
      /^ {2}\d\d-\d\d \d\d:\d\d \[lobby\] alice: 明天交作业吗？$/,
    );
    bob.client.close();
    viewer.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("IRC: a multi-line message is one PRIVMSG per line, a reply carries its quote", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const irc = await TestClient.connect(server.port);
  try {
    irc.write("NICK ircbob\r\nUSER ircbob 0 * :Bob\r\n");
    await irc.waitForLine(/ 366 /);
    alice.client.send({ type: "say", text: "line one\nline two" });
    const original = await alice.client.waitFor(isMsg("line one\nline two"));
    assert.match(
      await irc.waitForLine(/PRIVMSG #lobby :line one/),
      /^:alice!\S+ PRIVMSG #lobby :line one$/,
    );
    assert.match(await irc.nextLine(), /^:alice!\S+ PRIVMSG #lobby :line two$/);
    alice.client.send({
      type: "say",
      text: "and a reply",
      reply_to: (original as RoomMessage).id,
    });
    assert.match(
      await irc.waitForLine(/and a reply/),
      /PRIVMSG #lobby :↪ alice: "line one line two" and a reply$/,
    );
  } finally {
    alice.client.close();
    irc.close();
    await server.stop();
  }
});
