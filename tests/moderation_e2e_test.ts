/**
 * Running a group against the real server, over real sockets, in JSON and
 * the text dialect: accounts and their passwords, the owner made with
 * `chat account add` from a pipe, `/op`, mute (timed and for everyone),
 * kick, bans that survive a reconnect and a restart, and refusals for
 * whoever may not act.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { WsTestClient } from "./web_client.ts";

type Welcome = Extract<ServerEvent, { type: "welcome" }>;
type ErrorEvent = Extract<ServerEvent, { type: "error" }>;
type ModEvent = Extract<ServerEvent, { type: "mod" }>;

const isError = (e: ServerEvent) => e.type === "error";
const isMod = (action: string) => (e: ServerEvent) =>
  e.type === "mod" && e.action === action;
const isMsg = (text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.text === text;

/** Makes the owner `olga` (password `olga-pass`) with `chat account add` from a pipe. */
async function makeOwner(db: string): Promise<void> {
  const made = await runChat(
    ["account", "add", "olga", "--role", "owner", "--db", db],
    "olga-pass\n",
  );
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /added olga \(owner\)/);
}

/**
 * Stores message 1, `old words` by `nick` in lobby three minutes ago, as the
 * server would have written it.
 */
async function storeOldWords(db: string, nick: string): Promise<void> {
  const { DatabaseSync } = await import("node:sqlite");
  const raw = new DatabaseSync(db);
  raw.exec(
    "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, room TEXT NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL, me INTEGER NOT NULL DEFAULT 0)",
  );
  raw.prepare(
    "INSERT INTO messages (id, ts, room, nick, text, me) VALUES (1, ?, 'lobby', ?, 'old words', 0)",
  ).run(Date.now() - 3 * 60 * 1000, nick);
  raw.close();
}

/** A hello that is answered by an error: the error. */
async function refusedHello(
  port: number,
  hello: Record<string, unknown>,
  from?: string,
): Promise<ErrorEvent> {
  const client = from === undefined
    ? await TestClient.connect(port)
    : await TestClient.connectFrom(from, port);
  try {
    client.send({ type: "hello", ...hello });
    const answer = await client.waitFor(
      (e) => e.type === "welcome" || e.type === "error",
      10_000,
    );
    assert.equal(answer.type, "error", JSON.stringify(answer));
    return answer as ErrorEvent;
  } finally {
    await client.close();
  }
}

Deno.test("a registered nickname is refused without its password, in JSON and the text dialect, and its password lets it in", async () => {
  const dir = await tempDir();
  const server = await ServerProcess.start([
    "--db",
    `${dir.path}/chat.db`,
    "--rate",
    "0",
  ]);
  try {
    const alice = await TestClient.join(server.port, "alice");
    alice.client.send({ type: "register", password: "short" });
    const weak = await alice.client.waitFor(isError) as ErrorEvent;
    assert.equal(weak.code, "password_invalid");
    alice.client.send({ type: "register", password: "alice-pass" });
    const info = await alice.client.waitFor((e) => e.type === "info");
    assert.match(JSON.stringify(info), /alice is registered/);
    alice.client.send({ type: "password", old: "wrong-one", new: "x" });
    assert.equal(
      (await alice.client.waitFor(isError) as ErrorEvent).code,
      "bad_password",
    );
    alice.client.send({ type: "password", old: "alice-pass", new: "alice-2" });
    await alice.client.waitFor((e) =>
      e.type === "info" && /password is changed/.test(e.text)
    );
    alice.client.send({ type: "quit" });
    await alice.client.waitClosed();
    await alice.client.close();

    // Without a password: told what is needed, on a connection that stays
    // open for a hello with it (no guess was made). A wrong one and the old
    // one: refused.
    const asking = await TestClient.connect(server.port);
    asking.send({ type: "hello", nick: "alice" });
    const none = await asking.waitFor(isError) as ErrorEvent;
    assert.deepEqual(none, {
      type: "error",
      code: "account_password",
      message: "alice is a registered nickname: its password is needed",
    });
    asking.send({ type: "hello", nick: "alice", password: "alice-2" });
    await asking.waitFor((e) => e.type === "welcome");
    asking.send({ type: "quit" });
    await asking.waitClosed();
    await asking.close();
    // Refused like a wrong server password: slowly (a second at least).
    const askedAt = Date.now();
    const wrong = await refusedHello(server.port, {
      nick: "ALICE",
      password: "alice-pass",
    });
    assert.equal(wrong.code, "bad_password");
    assert.ok(Date.now() - askedAt >= 950, `${Date.now() - askedAt} ms`);

    // The text dialect asks for it after the nickname.
    const text = await TestClient.connect(server.port);
    text.write("alice\r\n");
    await text.waitForLine("Password?", 10_000);
    text.write("alice-2\r\n");
    await text.waitForLine("Welcome, alice!", 10_000);
    // A signed-in member keeps its name; a guest cannot take a registered one.
    text.write("/nick alicia\r\n");
    await text.waitForLine("keeps its nickname");
    const guest = await TestClient.join(server.port, "bob");
    guest.client.send({ type: "nick", nick: "Alice" });
    const taken = await guest.client.waitFor(isError) as ErrorEvent;
    assert.ok(["nick_taken", "account_password"].includes(taken.code));
    await guest.client.close();
    text.write("/quit\r\n");
    await text.waitClosed();
    await text.close();

    const back = await TestClient.join(server.port, "alice", {
      password: "alice-2",
    });
    assert.equal(back.welcome.nick, "alice");
    await back.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("the owner made with chat account add runs the room: /op, roles in /who, and an admin cannot act on the owner", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const listed = await runChat(["account", "list", "--db", db]);
  assert.match(listed.stdout, /^olga\towner\t/m);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    // While the server runs, the account command refuses to touch its db.
    const busy = await runChat(
      ["account", "add", "zed", "--db", db],
      "zed-pass-1\n",
    );
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /in use by a running chat serve: stop it first/);

    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    assert.equal(olga.welcome.role, "owner");
    const bob = await TestClient.join(server.port, "bob");
    bob.client.send({ type: "register", password: "bob-pass" });
    await bob.client.waitFor((e) => e.type === "info");

    // Only the owner ops; a guest cannot be an admin.
    bob.client.send({ type: "op", nick: "bob" });
    assert.equal(
      (await bob.client.waitFor(isError) as ErrorEvent).code,
      "not_allowed",
    );
    const carol = await TestClient.join(server.port, "carol");
    olga.client.send({ type: "op", nick: "carol" });
    assert.equal(
      (await olga.client.waitFor(isError) as ErrorEvent).code,
      "not_registered",
    );
    olga.client.send({ type: "op", nick: "bob" });
    const op = await carol.client.waitFor(isMod("op")) as ModEvent;
    assert.equal(op.text, "bob is now an admin of lobby (by olga)");

    carol.client.send({ type: "who" });
    const who = await carol.client.waitFor((e) => e.type === "who");
    assert.deepEqual(
      (who as Extract<ServerEvent, { type: "who" }>).roles,
      { olga: "owner", bob: "admin" },
    );

    // The admin cannot act on the owner, nor op anyone.
    for (
      const frame of [
        { type: "mute", nick: "olga" },
        { type: "kick", nick: "olga" },
        { type: "ban", nick: "olga" },
        { type: "op", nick: "carol" },
      ]
    ) {
      bob.client.send(frame);
      const refusal = await bob.client.waitFor(isError) as ErrorEvent;
      assert.equal(refusal.code, "not_allowed", JSON.stringify(frame));
    }
    // Roles are stored: after a restart bob is still an admin of lobby.
    await olga.client.close();
    await bob.client.close();
    await carol.client.close();
  } finally {
    await server.stop();
  }
  const again = await ServerProcess.start(["--db", db]);
  try {
    const bob = await TestClient.join(again.port, "bob", {
      password: "bob-pass",
    });
    assert.equal(bob.welcome.role, "admin");
    await bob.client.close();
  } finally {
    await again.stop();
    await dir.remove();
  }
});

Deno.test("a member who is not the owner or an admin is refused every moderation command", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const carol = await TestClient.join(server.port, "carol");
  const dave = await TestClient.join(server.port, "dave");
  try {
    const frames = [
      { type: "op", nick: "dave" },
      { type: "deop", nick: "dave" },
      { type: "mute", nick: "dave" },
      { type: "unmute", nick: "dave" },
      { type: "muteall", on: true },
      { type: "kick", nick: "dave" },
      { type: "ban", nick: "dave" },
      { type: "unban", nick: "dave" },
      { type: "bans" },
    ];
    for (const frame of frames) {
      carol.client.send(frame);
      const refusal = await carol.client.waitFor(isError) as ErrorEvent;
      assert.equal(refusal.code, "not_allowed", JSON.stringify(frame));
    }
    // Its /help in the text dialect does not list them.
    const text = await TestClient.connect(server.port);
    text.write("erin\r\n");
    await text.waitForLine("Welcome, erin!");
    text.write("/help\r\n");
    const help: string[] = [];
    for (;;) {
      const line = await text.nextLine();
      help.push(line);
      if (line.includes("//text")) break;
    }
    assert.ok(help.some((l) => l.includes("/register PASSWORD")));
    assert.ok(
      !help.some((l) => /\/(mute|kick|ban|op)\b/.test(l)),
      help.join("\n"),
    );
    await text.close();
  } finally {
    await carol.client.close();
    await dave.client.close();
    await server.stop();
  }
});

Deno.test("a mute with a duration silences the member until it expires; /muteall leaves only the owner and admins speaking", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    // The owner mutes from the text dialect too: the same command table.
    const carol = await TestClient.connect(server.port);
    carol.write("carol\r\n");
    await carol.waitForLine("Welcome, carol!");
    olga.client.send({ type: "mute", nick: "carol", seconds: 3 });
    const muted = await olga.client.waitFor(isMod("mute")) as ModEvent;
    assert.equal(muted.text, "carol was muted for 3 seconds by olga");
    await carol.waitForLine("* carol was muted for 3 seconds by olga");
    const mutedAt = Date.now();
    carol.write("can I talk?\r\n");
    await carol.waitForLine(/you are muted in lobby for \d+ seconds? more/);
    carol.write("/nick carol2\r\n");
    await carol.waitForLine("a muted member keeps its nickname");
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 3300 - (Date.now() - mutedAt)))
    );
    carol.write("free again\r\n");
    await olga.client.waitFor(isMsg("free again"));

    olga.client.send({ type: "muteall", on: true });
    await carol.waitForLine("olga muted everyone");
    carol.write("and now?\r\n");
    await carol.waitForLine("everyone is muted in lobby");
    olga.client.send({ type: "say", text: "owner speaks" });
    await carol.waitForLine("olga: owner speaks");
    olga.client.send({ type: "muteall", on: false });
    await carol.waitForLine("let everyone speak again");
    carol.write("thanks\r\n");
    await olga.client.waitFor(isMsg("thanks"));
    await carol.close();
    await olga.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a kick puts a member out of the room, and it may come back", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const carol = await TestClient.join(server.port, "carol");
    olga.client.send({ type: "kick", nick: "carol", reason: "spam" });
    const kick = await carol.client.waitFor(isMod("kick")) as ModEvent;
    assert.equal(kick.text, "carol was kicked by olga (spam)");
    const part = await carol.client.waitFor((e) => e.type === "part");
    assert.deepEqual(
      (part as Extract<ServerEvent, { type: "part" }>).rooms,
      [],
    );
    olga.client.send({ type: "who" });
    const who = await olga.client.waitFor((e) => e.type === "who");
    assert.deepEqual((who as Extract<ServerEvent, { type: "who" }>).users, [
      "olga",
    ]);
    carol.client.send({ type: "join", room: "lobby" });
    const welcome = await carol.client.waitFor((e) =>
      e.type === "welcome"
    ) as Welcome;
    assert.equal(welcome.room, "lobby");
    await carol.client.close();
    await olga.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a ban keeps a registered member and a guest's address out across a reconnect and a restart, until /unban", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  let server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const dave = await TestClient.join(server.port, "dave");
    dave.client.send({ type: "register", password: "dave-pass" });
    await dave.client.waitFor((e) => e.type === "info");
    const guest = await TestClient.join(
      server.port,
      "gus",
      {},
      "127.0.0.2",
    );
    olga.client.send({ type: "ban", nick: "dave", reason: "trolling" });
    const ban = await dave.client.waitFor(isMod("ban")) as ModEvent;
    assert.equal(ban.text, "dave was banned by olga (trolling)");
    await dave.client.waitFor((e) => e.type === "part");
    dave.client.send({ type: "join", room: "lobby" });
    const refused = await dave.client.waitFor(isError) as ErrorEvent;
    assert.equal(refused.code, "banned");
    assert.equal(
      refused.message,
      "you are banned from lobby by olga, for ever (trolling)",
    );
    await dave.client.close();

    olga.client.send({ type: "ban", nick: "gus", seconds: 3600 });
    await guest.client.waitFor(isMod("ban"));
    await guest.client.close();
    olga.client.send({ type: "bans" });
    const bans = await olga.client.waitFor((e) => e.type === "bans");
    assert.deepEqual(
      (bans as Extract<ServerEvent, { type: "bans" }>).bans.map((b) => b.nick)
        .sort(),
      ["dave", "gus"],
    );

    // Reconnecting: dave with its password, gus under another name. Each
    // is told which room, by whom, for how long and why, in every door.
    const daveAgain = await refusedHello(server.port, {
      nick: "dave",
      password: "dave-pass",
    });
    assert.equal(daveAgain.code, "banned");
    assert.equal(
      daveAgain.message,
      "you are banned from lobby by olga, for ever (trolling)",
    );
    const gusAgain = await refusedHello(
      server.port,
      { nick: "gus2" },
      "127.0.0.2",
    );
    assert.equal(gusAgain.code, "banned");
    assert.match(
      gusAgain.message,
      /^you are banned from lobby by olga for (1 hour|60 minutes|59 minutes) more, until \d\d:\d\d$/,
    );
    const typed = await TestClient.connectFrom("127.0.0.2", server.port);
    await typed.nextLine(); // the banner
    typed.write("gus3\r\n");
    assert.equal(await typed.nextLine(), `! ${gusAgain.message}`);
    assert.equal(await typed.nextLine(), "Nickname?");
    await typed.close();
    const { client: page, welcome: pageRefused } = await WsTestClient.join(
      { port: server.port },
      "dave",
      { password: "dave-pass" },
    );
    assert.deepEqual(pageRefused, {
      type: "error",
      code: "banned",
      message: "you are banned from lobby by olga, for ever (trolling)",
    });
    await page.close();
    // A hello that also asks for other rooms: each banned one says why.
    const elsewhere = await TestClient.join(server.port, "dave", {
      password: "dave-pass",
      room: "games",
      rooms: [{ room: "lobby" }],
    });
    const leftOut = await elsewhere.client.waitFor(isError) as ErrorEvent;
    assert.equal(
      leftOut.message,
      "not joined lobby: you are banned from lobby by olga, for ever (trolling)",
    );
    await elsewhere.client.close();
    // Another address is not held by it.
    const other = await TestClient.join(server.port, "hal", {}, "127.0.0.3");
    await other.client.close();
    await olga.client.close();

    await server.stop();
    assert.match(server.log, /mod lobby ban dave by olga reason="trolling"/);
    server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    assert.equal(
      (await refusedHello(server.port, {
        nick: "dave",
        password: "dave-pass",
      })).code,
      "banned",
    );
    assert.equal(
      (await refusedHello(server.port, { nick: "gus3" }, "127.0.0.2")).code,
      "banned",
    );
    const owner = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    owner.client.send({ type: "unban", nick: "dave" });
    await owner.client.waitFor(isMod("unban"));
    owner.client.send({ type: "unban", nick: "gus" });
    await owner.client.waitFor(isMod("unban"));
    const daveBack = await TestClient.join(server.port, "dave", {
      password: "dave-pass",
    });
    const gusBack = await TestClient.join(server.port, "gus", {}, "127.0.0.2");
    await daveBack.client.close();
    await gusBack.client.close();
    await owner.client.close();
    assert.match(server.log, /mod lobby unban dave by olga/);
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a pinned notice reaches the room when set, and each member joining after a restart, in JSON and the text dialect", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  let server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const carol = await TestClient.join(server.port, "carol");
    carol.client.send({ type: "notice", text: "I pin this" });
    assert.equal(
      (await carol.client.waitFor(isError) as ErrorEvent).code,
      "not_allowed",
    );
    olga.client.send({ type: "notice", text: "Homework due Friday" });
    const pinned = await carol.client.waitFor((e) => e.type === "notice");
    assert.equal(
      (pinned as Extract<ServerEvent, { type: "notice" }>).text,
      "Homework due Friday",
    );
    carol.client.send({ type: "notice" });
    await carol.client.waitFor((e) =>
      e.type === "notice" && e.text === "Homework due Friday"
    );
    await carol.client.close();
    await olga.client.close();
    await server.stop();

    server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const later = await TestClient.join(server.port, "dora");
    assert.equal(later.welcome.notice?.text, "Homework due Friday");
    assert.equal(later.welcome.notice?.by, "olga");
    await later.client.close();
    const text = await TestClient.connect(server.port);
    text.write("erin\r\n");
    await text.waitForLine("Welcome, erin!");
    await text.waitForLine("* Notice (by olga): Homework due Friday");
    await text.close();

    const owner = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    owner.client.send({ type: "notice", text: "" });
    await owner.client.waitFor((e) => e.type === "notice" && e.text === "");
    await owner.client.close();
    const after = await TestClient.join(server.port, "fred");
    assert.equal(after.welcome.notice, undefined);
    await after.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("recall: one's own message within 2 minutes, not after; an admin's of anyone's; gone from history after since and a restart", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  // A message of carol's from three minutes ago, past the recall window.
  await storeOldWords(db, "carol");
  let server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const carol = await TestClient.connect(server.port);
    carol.write("carol\r\n");
    await carol.waitForLine("Welcome, carol!");

    carol.write("/recall 1\r\n");
    await carol.waitForLine("recalled by its sender for 2 minutes only");

    carol.write("oops, wrong room\r\n");
    const sent = await olga.client.waitFor(isMsg("oops, wrong room"));
    const sentId = (sent as Extract<ServerEvent, { type: "msg" }>).id;
    // A reply quotes it; the recall blanks that quote in history too.
    olga.client.send({ type: "say", text: "wrong indeed", reply_to: sentId });
    await olga.client.waitFor(isMsg("wrong indeed"));
    await carol.waitForLine("wrong indeed");
    carol.write("/recall\r\n");
    const recall = await olga.client.waitFor((e) => e.type === "recall");
    assert.deepEqual(
      { ...recall, ts: 0 },
      {
        type: "recall",
        ts: 0,
        room: "lobby",
        id: (sent as Extract<ServerEvent, { type: "msg" }>).id,
        nick: "carol",
        by: "carol",
      },
    );
    await carol.waitForLine("* carol recalled a message");

    // Someone else's message is the owner's and admins' to recall.
    olga.client.send({ type: "say", text: "keep this" });
    await olga.client.waitFor(isMsg("keep this"));
    carol.write("/recall olga\r\n");
    await carol.waitForLine("only the owner and admins may recall");
    olga.client.send({ type: "recall", id: 1 });
    await carol.waitForLine("* olga recalled a message of carol");

    // A since resume and a late joiner: neither recalled message comes back.
    const resumed = await TestClient.join(server.port, "dora", { since: 0 });
    assert.deepEqual(resumed.welcome.history.map((m) => m.text), [
      "wrong indeed",
      "keep this",
    ]);
    assert.equal(resumed.welcome.history[0].quote?.text, "(recalled)");
    assert.equal(resumed.welcome.history[0].quote?.recalled, true);
    assert.doesNotMatch(JSON.stringify(resumed.welcome), /oops/);
    await resumed.client.close();
    await carol.close();
    await olga.client.close();
    await server.stop();

    server = await ServerProcess.start(["--db", db]);
    const fresh = await TestClient.join(server.port, "erin");
    assert.deepEqual(fresh.welcome.history.map((m) => m.text), [
      "wrong indeed",
      "keep this",
    ]);
    assert.doesNotMatch(JSON.stringify(fresh.welcome), /oops|old words/);
    assert.equal(fresh.welcome.history[0].quote?.recalled, true);
    await fresh.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("IRC: a registered nickname's PASS is its password; the owner shows as @, the notice as TOPIC, a kick as KICK", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const made = await runChat(
    ["account", "add", "ivan", "--db", db],
    "ivan-pass\n",
  );
  assert.equal(made.code, 0, made.stderr);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    // Without PASS: told what is needed, at once; with a wrong one: 464.
    const none = await TestClient.connect(server.port);
    none.write("NICK ivan\r\nUSER ivan 0 * :I\r\n");
    await none.waitForLine(
      ":chat 464 ivan :ivan is a registered nickname: its password is needed, as the server password (PASS)",
      10_000,
    );
    await none.close();
    const wrong = await TestClient.connect(server.port);
    wrong.write("PASS not-ivans\r\nNICK ivan\r\nUSER ivan 0 * :I\r\n");
    await wrong.waitForLine(":chat 464 ivan :Password incorrect", 10_000);
    await wrong.close();

    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const ivan = await TestClient.connectFrom("127.0.0.2", server.port);
    ivan.write("PASS ivan-pass\r\nNICK ivan\r\nUSER ivan 0 * :I\r\n");
    await ivan.waitForLine(/^:chat 001 ivan /, 10_000);
    await ivan.waitForLine(/ 353 ivan = #lobby :(.* )?@olga( |$)/);

    olga.client.send({ type: "notice", text: "Exam on Monday" });
    await ivan.waitForLine(/^:olga!\S+ TOPIC #lobby :Exam on Monday/);
    olga.client.send({ type: "kick", nick: "ivan", reason: "test" });
    await ivan.waitForLine(/^:olga!\S+ KICK #lobby ivan :test/);
    ivan.write("QUIT\r\n");
    await ivan.close();
    await olga.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

/**
 * An IRC client registered as `nick` from `from`: its account password as
 * PASS, if any, and the capabilities in `caps` asked for (CAP REQ) first.
 */
async function ircMember(
  port: number,
  nick: string,
  from: string,
  { password, caps }: { password?: string; caps?: string } = {},
): Promise<TestClient> {
  const client = await TestClient.connectFrom(from, port);
  client.write(
    `${caps ? `CAP LS 302\r\nCAP REQ :${caps}\r\n` : ""}${
      password ? `PASS ${password}\r\n` : ""
    }NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`,
  );
  if (caps) {
    await client.waitForLine(/ CAP \S+ ACK /, 10_000);
    client.write("CAP END\r\n");
  }
  await client.waitForLine(new RegExp(`^:chat 001 ${nick} `), 10_000);
  await client.waitForLine(/ 366 /);
  return client;
}

Deno.test("IRC moderation: the owner KICKs, bans and unbans with MODE +b/-b, silences the room with MODE +m; a member who may not gets 482", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await ircMember(server.port, "olga", "127.0.0.2", {
      password: "olga-pass",
    });
    const bob = await ircMember(server.port, "bob", "127.0.0.3");
    const { client: carol } = await TestClient.join(server.port, "carol");

    bob.write("KICK #lobby carol :go\r\nMODE #lobby +m\r\n");
    await bob.waitForLine(/^:chat 482 bob #lobby :only the owner and admins/);
    await bob.waitForLine(/^:chat 482 bob #lobby :only the owner and admins/);
    olga.write("KICK #lobby nobody\r\nKICK #nowhere carol\r\n");
    await olga.waitForLine(/^:chat 401 olga nobody :/);
    await olga.waitForLine(/^:chat 44[12] olga /);

    olga.write("KICK #lobby bob :spam\r\n");
    await bob.waitForLine(/^:olga!olga@chat KICK #lobby bob :spam\r?$/);
    const kick = await carol.waitFor(isMod("kick")) as ModEvent;
    assert.deepEqual([kick.nick, kick.by, kick.reason], [
      "bob",
      "olga",
      "spam",
    ]);
    // Put out of the channel, bob may come back: his JOIN is answered.
    bob.write("JOIN #lobby\r\n");
    await bob.waitForLine(/^:bob!bob@chat JOIN #lobby\r?$/);
    await bob.waitForLine(/ 366 bob #lobby /);

    olga.write("MODE #lobby +b bob\r\n");
    await bob.waitForLine(/^:olga!olga@chat MODE #lobby \+b bob!\*@\*\r?$/);
    await bob.waitForLine(/^:olga!olga@chat KICK #lobby bob :/);
    await carol.waitFor(isMod("ban"));
    bob.write("JOIN #lobby\r\n");
    await bob.waitForLine(/^:chat 474 bob #lobby :/);
    olga.write("MODE #lobby b\r\n");
    await olga.waitForLine(/^:chat 367 olga #lobby bob!\*@\* :?olga\r?$/);
    await olga.waitForLine(/^:chat 368 olga #lobby :/);
    bob.write("MODE #lobby b\r\n");
    await bob.waitForLine(/^:chat 368 bob #lobby :/);
    olga.write("MODE #lobby -b bob!*@*\r\n");
    await olga.waitForLine(/^:olga!olga@chat MODE #lobby -b bob!\*@\*\r?$/);
    bob.write("JOIN #lobby\r\n");
    await bob.waitForLine(/^:bob!bob@chat JOIN #lobby\r?$/);

    olga.write("MODE #lobby +m\r\n");
    await bob.waitForLine(/^:olga!olga@chat MODE #lobby \+m\r?$/);
    const muted = await carol.waitFor(isMod("muteall")) as ModEvent;
    assert.equal(muted.on, true);
    bob.write("MODE #lobby\r\nPRIVMSG #lobby :can I?\r\n");
    await bob.waitForLine(/^:chat 324 bob #lobby :?\+mnt\r?$/);
    await bob.waitForLine(/^:chat 404 bob #lobby :/);
    olga.write("PRIVMSG #lobby :the owner may\r\nMODE #lobby -m\r\n");
    await carol.waitFor(isMsg("the owner may"));
    await bob.waitForLine(/^:olga!olga@chat MODE #lobby -m\r?$/);
    bob.write("PRIVMSG #lobby :now I may\r\n");
    await carol.waitFor(isMsg("now I may"));
    olga.write("MODE #lobby +q bob\r\n");
    await olga.waitForLine(/^:chat 472 olga q :/);
    await Promise.all([olga.close(), bob.close(), carol.close()]);
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("@all: ordinary members may call it only while no owner or admin is in the room", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const bob = await TestClient.join(server.port, "bob");
    bob.client.send({ type: "say", text: "@all nobody in charge here" });
    await bob.client.waitFor(isMsg("@all nobody in charge here"));
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    bob.client.send({ type: "say", text: "@all with the owner here" });
    const refused = await bob.client.waitFor(isError) as ErrorEvent;
    assert.equal(refused.code, "at_all_not_allowed");
    olga.client.send({ type: "say", text: "@all from the owner" });
    const called = await bob.client.waitFor(isMsg("@all from the owner"));
    assert.equal(called.type === "msg" && called.all, true);
    await Promise.all([bob.client.close(), olga.client.close()]);
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("IRC: REDACT recalls for a client that asked for draft/message-redaction, by the same rules as /recall; others read a NOTICE; TOPIC, NAMES and WHO show the notice and the owner", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  // A message of bob's from three minutes ago, past the recall window.
  await storeOldWords(db, "bob");
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const caps = "message-tags echo-message draft/message-redaction";
    const bob = await ircMember(server.port, "bob", "127.0.0.3", { caps });
    const dan = await ircMember(server.port, "dan", "127.0.0.4");
    const tess = await TestClient.connect(server.port);
    tess.write("tess\r\n");
    await tess.waitForLine("Welcome, tess!");
    const olga = await ircMember(server.port, "olga", "127.0.0.2", {
      caps,
      password: "olga-pass",
    });
    // The owner arriving: an operator at once on IRC, marked in text.
    await dan.waitForLine(":olga!olga@chat JOIN #lobby");
    assert.equal(await dan.nextLine(), ":chat MODE #lobby +o olga");
    await tess.waitForLine(/\* olga \(owner\) joined lobby/);
    await tess.close();
    const { client: carol } = await TestClient.join(server.port, "carol");

    // One's own message, within 2 minutes: gone for everyone.
    bob.write("PRIVMSG #lobby :oops, wrong room\r\n");
    const echo = await bob.waitForLine(/PRIVMSG #lobby :oops, wrong room/);
    const id = /msgid=(\d+)/.exec(echo)![1];
    bob.write(`REDACT #lobby ${id} :typo\r\n`);
    await olga.waitForLine(`:bob!bob@chat REDACT #lobby ${id}`);
    await bob.waitForLine(`:bob!bob@chat REDACT #lobby ${id}`);
    await dan.waitForLine(":chat NOTICE #lobby :bob recalled a message");
    const recall = await carol.waitFor((e) => e.type === "recall");
    assert.equal(
      recall.type === "recall" && String(recall.id),
      id,
    );

    // Older than 2 minutes, or someone else's: refused with the spec's FAILs.
    bob.write("REDACT #lobby 1\r\n");
    await bob.waitForLine(
      /^:chat FAIL REDACT REDACT_WINDOW_EXPIRED #lobby 1 :?120 :.*2 minutes/,
    );
    carol.send({ type: "say", text: "carol's words" });
    const line = await bob.waitForLine(/PRIVMSG #lobby :carol's words/);
    const carolId = /msgid=(\d+)/.exec(line)![1];
    bob.write(`REDACT #lobby ${carolId}\r\n`);
    await bob.waitForLine(
      `:chat FAIL REDACT REDACT_FORBIDDEN #lobby ${carolId} :only the owner and admins may recall someone else's message`,
    );
    bob.write("REDACT #lobby 999999\r\n");
    await bob.waitForLine(/^:chat FAIL REDACT UNKNOWN_MSGID #lobby 999999 :/);
    // The owner redacts anyone's, at any time.
    olga.write(`REDACT #lobby ${carolId}\r\nREDACT #lobby 1\r\n`);
    await bob.waitForLine(`:olga!olga@chat REDACT #lobby ${carolId}`);
    await bob.waitForLine(":olga!olga@chat REDACT #lobby 1");
    await dan.waitForLine(
      ":chat NOTICE #lobby :olga recalled a message of bob",
    );
    assert.match(server.log, new RegExp(`recall lobby #${id} of bob by bob`));

    // The pinned notice is the topic; the owner is @ in NAMES and WHO.
    olga.write("TOPIC #lobby :Exam on Monday\r\n");
    await bob.waitForLine(/^:olga!olga@chat TOPIC #lobby :Exam on Monday/);
    bob.write("TOPIC #lobby\r\nNAMES #lobby\r\nWHO #lobby\r\n");
    await bob.waitForLine(":chat 332 bob #lobby :Exam on Monday");
    await bob.waitForLine(/^:chat 333 bob #lobby olga :?\d+$/);
    await bob.waitForLine(/^:chat 353 bob = #lobby :(.* )?@olga( |$)/);
    await bob.waitForLine(/^:chat 352 bob #lobby olga chat chat olga H@ /);

    // Gone from history: a since resume shows none of the three.
    const late = await TestClient.join(server.port, "erin", { since: 0 });
    assert.deepEqual(late.welcome.history.map((m) => m.text), []);
    await late.client.close();
    await Promise.all([olga.close(), bob.close(), dan.close(), carol.close()]);
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("every action is one line in the server log and one stored row (who, what, whom, when); no password is ever logged or stored in the clear", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await makeOwner(db);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  const started = Date.now();
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    // bob registers and changes its password from the text dialect, and
    // signs in with it over JSON: each password crosses the server.
    const bobText = await TestClient.connect(server.port);
    bobText.write("bob\r\n");
    await bobText.waitForLine("Welcome, bob!");
    bobText.write("/register bob-first-pw\r\n");
    await bobText.waitForLine("bob is registered");
    bobText.write("/password bob-first-pw bob-second-pw\r\n");
    await bobText.waitForLine("your password is changed");
    bobText.write("/quit\r\n");
    await bobText.waitClosed();
    await bobText.close();
    const wrong = await refusedHello(server.port, {
      nick: "bob",
      password: "bob-wrong-pw",
    });
    assert.equal(wrong.code, "bad_password");
    const bob = await TestClient.join(server.port, "bob", {
      password: "bob-second-pw",
    });
    const carol = await TestClient.join(server.port, "carol");

    const steps: [Record<string, unknown>, string][] = [
      [{ type: "op", nick: "bob" }, "op"],
      [{ type: "deop", nick: "bob" }, "deop"],
      [{ type: "mute", nick: "carol", seconds: 120 }, "mute"],
      [{ type: "unmute", nick: "carol" }, "unmute"],
      [{ type: "muteall", on: true }, "muteall"],
      [{ type: "muteall", on: false }, "muteall"],
      [{ type: "notice", text: "Read the rules" }, "notice"],
      [{ type: "notice", text: "" }, "notice"],
      [{ type: "kick", nick: "carol", reason: "a test" }, "kick"],
    ];
    for (const [frame, answer] of steps) {
      olga.client.send(frame);
      await olga.client.waitFor((e) =>
        answer === "notice" ? e.type === "notice" : isMod(answer)(e)
      );
    }
    carol.client.send({ type: "join", room: "lobby" });
    await carol.client.waitFor((e) => e.type === "welcome");
    olga.client.send({ type: "ban", nick: "carol", seconds: 60 });
    await olga.client.waitFor(isMod("ban"));
    olga.client.send({ type: "unban", nick: "carol" });
    await olga.client.waitFor(isMod("unban"));
    bob.client.send({ type: "say", text: "take this back" });
    await bob.client.waitFor(isMsg("take this back"));
    bob.client.send({ type: "recall" });
    await olga.client.waitFor((e) => e.type === "recall");
    bob.client.send({ type: "say", text: "the owner takes this" });
    await olga.client.waitFor(isMsg("the owner takes this"));
    olga.client.send({ type: "recall", nick: "bob" });
    await olga.client.waitFor((e) => e.type === "recall" && e.by === "olga");
    await Promise.all([olga.client.close(), bob.client.close()]);
    await carol.client.close();
  } finally {
    await server.stop();
  }
  try {
    const log = server.log;
    const count = (pattern: RegExp) =>
      log.split("\n").filter((l) => pattern.test(l)).length;
    assert.equal(count(/mod lobby op bob by olga$/), 1, log);
    assert.equal(count(/mod lobby deop bob by olga$/), 1, log);
    assert.equal(count(/mod lobby mute carol by olga 120s$/), 1, log);
    assert.equal(count(/mod lobby unmute carol by olga$/), 1, log);
    assert.equal(count(/mod lobby muteall by olga on$/), 1, log);
    assert.equal(count(/mod lobby muteall by olga off$/), 1, log);
    assert.equal(count(/mod lobby notice set by olga$/), 1, log);
    assert.equal(count(/mod lobby notice cleared by olga$/), 1, log);
    assert.equal(count(/mod lobby kick carol by olga reason="a test"$/), 1);
    assert.equal(count(/mod lobby ban carol by olga 60s$/), 1, log);
    assert.equal(count(/mod lobby unban carol by olga$/), 1, log);
    assert.equal(count(/recall lobby #\d+ of bob by bob$/), 1, log);
    assert.equal(count(/recall lobby #\d+ of bob by olga$/), 1, log);
    assert.equal(count(/register bob$/), 1, log);
    assert.equal(count(/password bob$/), 1, log);
    assert.doesNotMatch(
      log,
      /olga-pass|bob-first-pw|bob-second-pw|bob-wrong-pw/,
    );

    const { DatabaseSync } = await import("node:sqlite");
    const raw = new DatabaseSync(db, { readOnly: true });
    try {
      const rows = raw.prepare(
        "SELECT ts, room, action, by, target, detail FROM moderation_log ORDER BY rowid",
      ).all();
      assert.deepEqual(
        rows.map((r) => [r.action, r.by, r.target, r.detail]),
        [
          ["op", "olga", "bob", ""],
          ["deop", "olga", "bob", ""],
          ["mute", "olga", "carol", "120s"],
          ["unmute", "olga", "carol", ""],
          ["muteall", "olga", "", "on"],
          ["muteall", "olga", "", "off"],
          ["notice", "olga", "", ""],
          ["unnotice", "olga", "", ""],
          ["kick", "olga", "carol", 'reason="a test"'],
          ["ban", "olga", "carol", "60s"],
          ["unban", "olga", "carol", ""],
          ["recall", "bob", "bob", (rows[11]?.detail as string) ?? "?"],
          ["recall", "olga", "bob", (rows[12]?.detail as string) ?? "?"],
        ],
      );
      for (const row of rows) {
        assert.equal(row.room, "lobby");
        assert.ok(Number(row.ts) >= started && Number(row.ts) <= Date.now());
      }
      assert.match(String(rows[11].detail), /^#\d+$/);
      // Passwords only as salted scrypt hashes: each one different.
      const hashes = raw.prepare("SELECT nick, hash FROM accounts").all();
      assert.deepEqual(hashes.map((h) => h.nick).sort(), ["bob", "olga"]);
      for (const { hash } of hashes) {
        assert.match(
          String(hash),
          /^scrypt\$16384\$8\$1\$[^$]{20,}\$[^$]{40,}$/,
        );
      }
    } finally {
      raw.close();
    }
    // Nor anywhere in the database's files, pages of deleted rows included.
    for await (const entry of Deno.readDir(dir.path)) {
      if (!entry.isFile || !entry.name.startsWith("chat.db")) continue;
      const bytes = new TextDecoder("latin1").decode(
        await Deno.readFile(`${dir.path}/${entry.name}`),
      );
      assert.doesNotMatch(
        bytes,
        /olga-pass|bob-first-pw|bob-second-pw|bob-wrong-pw/,
        entry.name,
      );
    }
  } finally {
    await dir.remove();
  }
});
