/**
 * The pure parts of running a group: durations, the moderation commands of
 * the registry (their frames, usage errors and roles), the JSON frames'
 * validation, and the text dialect's lines for the new events.
 */

import assert from "node:assert/strict";
import { parseClientFrame } from "../protocol.ts";
import {
  COMMANDS,
  findCommand,
  helpLines,
  holdsPassword,
  mayUse,
} from "../src/shared/commands.ts";
import { LineEditor } from "../src/client/line_editor.ts";
import { formatDuration, parseDuration } from "../src/shared/duration.ts";
import { bansText, renderText } from "../src/shared/text_dialect.ts";
import { DatabaseSync } from "node:sqlite";
import { ModerationBook } from "../src/server/moderation_book.ts";
import {
  Accounts,
  hashPassword,
  passwordProblem,
  verifyPassword,
  verifyPasswordAsync,
} from "../src/server/accounts.ts";

function frameOf(line: string) {
  const space = line.indexOf(" ");
  const name = space === -1 ? line : line.slice(0, space);
  const args = space === -1 ? "" : line.slice(space + 1).trim();
  return findCommand(name)!.toFrame!(args);
}

Deno.test("durations read as people type them, and read back in words", () => {
  assert.equal(parseDuration("2s"), 2000);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7D"), 604_800_000);
  assert.equal(parseDuration("5"), 300_000, "a bare number is minutes");
  for (const bad of ["", "0m", "-1m", "m", "1.5h", "10 m", "spam"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
  assert.equal(formatDuration(2000), "2 seconds");
  assert.equal(formatDuration(600_000), "10 minutes");
  assert.equal(formatDuration(3_600_000), "1 hour");
  assert.equal(formatDuration(30 * 86_400_000), "30 days");
  // A time left just under a unit reads in it, never "60 minutes".
  assert.equal(formatDuration(3_600_000 - 1), "1 hour");
  assert.equal(formatDuration(60_000 - 400), "1 minute");
  assert.equal(formatDuration(86_400_000 - 60_000), "1 day");
  assert.equal(formatDuration(59 * 60_000), "59 minutes");
});

Deno.test("moderation commands turn into their frames; a duration is told from a reason", () => {
  assert.deepEqual(frameOf("/mute bob"), { type: "mute", nick: "bob" });
  assert.deepEqual(frameOf("/mute bob 2s"), {
    type: "mute",
    nick: "bob",
    seconds: 2,
  });
  assert.match(String(frameOf("/mute bob forever")), /usage: \/mute/);
  assert.deepEqual(frameOf("/ban bob 7d spamming links"), {
    type: "ban",
    nick: "bob",
    seconds: 604_800,
    reason: "spamming links",
  });
  assert.deepEqual(frameOf("/ban bob spamming"), {
    type: "ban",
    nick: "bob",
    reason: "spamming",
  });
  assert.deepEqual(frameOf("/kick bob be nice"), {
    type: "kick",
    nick: "bob",
    reason: "be nice",
  });
  assert.deepEqual(frameOf("/muteall ON"), { type: "muteall", on: true });
  assert.match(String(frameOf("/muteall maybe")), /usage/);
  assert.deepEqual(frameOf("/notice"), { type: "notice" });
  assert.deepEqual(frameOf("/notice clear"), { type: "notice", text: "" });
  assert.deepEqual(frameOf("/notice Exam on Monday"), {
    type: "notice",
    text: "Exam on Monday",
  });
  assert.deepEqual(frameOf("/recall"), { type: "recall" });
  assert.deepEqual(frameOf("/recall #42"), { type: "recall", id: 42 });
  assert.deepEqual(frameOf("/recall bob"), { type: "recall", nick: "bob" });
  assert.deepEqual(frameOf("/password old1234 new12345"), {
    type: "password",
    old: "old1234",
    new: "new12345",
  });
  assert.match(String(frameOf("/op")), /usage: \/op NICK/);
});

Deno.test("each moderation command carries its role, and /help lists what a role may use", () => {
  const roleOf = (name: string) => findCommand(name)?.role ?? "everyone";
  assert.equal(roleOf("/op"), "owner");
  assert.equal(roleOf("/deop"), "owner");
  for (const name of ["/mute", "/unmute", "/muteall", "/kick", "/ban"]) {
    assert.equal(roleOf(name), "admin", name);
  }
  assert.equal(roleOf("/register"), "everyone");
  const listed = (role: "owner" | "admin" | undefined) =>
    helpLines((c) => c.door === undefined && mayUse(c, role)).join("\n");
  assert.doesNotMatch(listed(undefined), /\/mute|\/op /);
  assert.match(listed("admin"), /\/mute NICK \[DURATION\]/);
  assert.doesNotMatch(listed("admin"), /\/op NICK/);
  assert.match(listed("owner"), /\/op NICK/);
  assert.ok(COMMANDS.every((c) => c.help.length > 0));
});

Deno.test("the moderation frames' fields are checked, with a wording that says what is wanted", () => {
  assert.deepEqual(
    parseClientFrame('{"type":"mute","nick":"bob","seconds":60}'),
    { ok: true, frame: { type: "mute", nick: "bob", seconds: 60 } },
  );
  const bad = parseClientFrame('{"type":"mute","nick":"bob","seconds":"1m"}');
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message ?? "" : "", /"seconds" \(number/);
  assert.equal(parseClientFrame('{"type":"muteall"}').ok, false);
  assert.equal(parseClientFrame('{"type":"register"}').ok, false);
  assert.deepEqual(parseClientFrame('{"type":"recall"}'), {
    ok: true,
    frame: { type: "recall" },
  });
});

Deno.test("the text dialect reads moderation, notices and recalls as one line each", () => {
  const ts = new Date(2026, 0, 1, 21, 14).getTime();
  assert.equal(
    renderText({
      type: "mod",
      ts,
      room: "lobby",
      action: "mute",
      by: "alice",
      nick: "bob",
      seconds: 600,
      text: "bob was muted for 10 minutes by alice",
    }),
    "21:14 * bob was muted for 10 minutes by alice\n",
  );
  assert.equal(
    renderText({
      type: "recall",
      ts,
      room: "lobby",
      id: 3,
      nick: "bob",
      by: "bob",
    }),
    "21:14 * bob recalled a message\n",
  );
  assert.equal(
    renderText({
      type: "who",
      room: "lobby",
      users: ["olga", "bob", "carol"],
      total: 3,
      roles: { olga: "owner", bob: "admin" },
    }),
    "* In lobby (3): olga (owner), bob (admin), carol\n",
  );
  assert.equal(
    renderText({
      type: "notice",
      room: "lobby",
      text: "Exam Monday",
      by: "olga",
      ts,
    }),
    "* Notice of lobby (by olga): Exam Monday\n",
  );
});

Deno.test("account passwords are salted scrypt hashes that only their password matches", async () => {
  const one = hashPassword("correct-horse");
  const two = hashPassword("correct-horse");
  assert.notEqual(one, two, "salted");
  assert.match(one, /^scrypt\$16384\$8\$1\$/);
  assert.ok(!one.includes("correct-horse"));
  assert.ok(verifyPassword("correct-horse", one));
  assert.ok(!verifyPassword("correct-hors", one));
  assert.ok(await verifyPasswordAsync("correct-horse", two));
  assert.ok(!(await verifyPasswordAsync("wrong-horse", two)));
  assert.match(passwordProblem("short") ?? "", /at least 6/);
  assert.match(passwordProblem("has space") ?? "", /spaces/);
  assert.equal(passwordProblem("fine-one"), undefined);
});

Deno.test("a line holding a password is not kept for up/down in the terminal client's editor", () => {
  const editor = new LineEditor({ keepInHistory: (l) => !holdsPassword(l) });
  for (
    const line of ["hello", "/register hunter22", "/PASSWORD a1b2c3 d4e5f6"]
  ) {
    editor.setText(line);
    editor.handle({ type: "key", key: "enter" });
  }
  assert.deepEqual(editor.history, ["hello"]);
  assert.ok(!holdsPassword("/mute bob"));
});

Deno.test("an account is found by every Accounts on its database from the moment it is added, and not once removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const db = new DatabaseSync(path);
    const first = new Accounts(db);
    const second = new Accounts(db);
    assert.equal(first.find("olga"), undefined, "nobody registered yet");
    assert.equal(first.lookalike("\u043elga"), undefined);
    second.add("olga", "olga-pass", "owner");
    assert.equal(first.find("OLGA")?.nick, "olga", "added by the other one");
    assert.equal(
      first.lookalike("\u043elga")?.nick,
      "olga",
      "and its look-alikes",
    );
    db.close();
    const reopened = new Accounts(new DatabaseSync(path));
    assert.equal(reopened.find("olga")?.role, "owner", "kept in the file");
    assert.ok(reopened.remove("olga"));
    assert.equal(reopened.find("olga"), undefined);
    assert.equal(reopened.lookalike("\u043elga"), undefined);
    assert.equal(reopened.remove("olga"), false, "removed once");
    reopened.add("bob", "bob-pass");
    assert.equal(reopened.find("bob")?.nick, "bob", "the count goes up again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a ban and a pinned notice are found in their room once put, after reopening, and not once lifted or cleared", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    let now = 1_000;
    const db = new DatabaseSync(path);
    const book = new ModerationBook(db, () => now);
    const ban = {
      kind: "ban" as const,
      room: "hall",
      target: "address:10.0.0.9",
      nick: "eve",
      until: 0,
      by: "olga",
      reason: "spam",
    };
    assert.equal(book.find("ban", "hall", [ban.target]), undefined);
    book.put(ban);
    book.put({ ...ban, room: "yard", until: 2_000 });
    assert.equal(book.find("ban", "hall", [ban.target])?.nick, "eve");
    assert.equal(book.find("ban", "lobby", [ban.target]), undefined);
    book.setNotice("hall", { text: "be kind", by: "olga", ts: 5 });
    assert.equal(book.notice("hall")?.text, "be kind");
    assert.equal(book.notice("lobby"), undefined);
    db.close();
    const reopened = new ModerationBook(new DatabaseSync(path), () => now);
    assert.equal(reopened.find("ban", "hall", [ban.target])?.reason, "spam");
    assert.equal(reopened.find("ban", "yard", [ban.target])?.until, 2_000);
    assert.equal(reopened.notice("hall")?.by, "olga", "kept in the file");
    now = 3_000;
    assert.equal(
      reopened.find("ban", "yard", [ban.target]),
      undefined,
      "ran out",
    );
    assert.ok(reopened.lift("ban", "hall", ban.target));
    assert.equal(reopened.find("ban", "hall", [ban.target]), undefined);
    reopened.setNotice("hall", { text: "", by: "olga", ts: 6 });
    assert.equal(reopened.notice("hall"), undefined, "cleared");
    reopened.setNotice("hall", { text: "again", by: "olga", ts: 7 });
    assert.equal(reopened.notice("hall")?.text, "again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/bans reads each ban's author, end and reason; one ending another day names that day", () => {
  const now = new Date(2026, 11, 1, 9, 0).getTime();
  const text = bansText({
    type: "bans",
    room: "lobby",
    bans: [
      { nick: "dave", by: "olga", reason: "trolling" },
      { nick: "gus", by: "olga", until: now + 2 * 3_600_000 },
      { nick: "hal", by: "bob", until: now + 7 * 86_400_000, reason: "spam" },
    ],
  }, now);
  assert.equal(
    text,
    "Banned from lobby (3): dave (by olga, for ever: trolling); gus (by olga, until 11:00); hal (by bob, until 12-08 09:00: spam)",
  );
  assert.equal(
    bansText({ type: "bans", room: "lobby", bans: [] }),
    "No one is banned from lobby.",
  );
});
