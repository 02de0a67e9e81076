/**
 * Several rooms at once against the real server, over real sockets: in JSON
 * and in the text dialect, messages of two rooms arrive tagged with their
 * room, `part` of one keeps the other, `since` resumes each room once, and
 * the caps refuse with clear errors.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { ServerProcess, TestClient } from "./helpers.ts";
import { joinText } from "./hostile_helpers.ts";

type Welcome = Extract<ServerEvent, { type: "welcome" }>;

const isMsg = (text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.text === text;

Deno.test("JSON: a member of two rooms receives both, each msg naming its room; part of one keeps the other", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob", { room: "class" });
  const carol = await TestClient.join(server.port, "carol");
  try {
    alice.client.send({ type: "join", room: "class" });
    const welcome = await alice.client.waitFor((e) =>
      e.type === "welcome"
    ) as Welcome;
    assert.equal(welcome.room, "class");
    assert.deepEqual(welcome.users, ["bob", "alice"]);
    assert.deepEqual(welcome.rooms, ["lobby", "class"]);

    bob.client.send({ type: "say", text: "from class" });
    carol.client.send({ type: "say", text: "from lobby" });
    const got = [
      await alice.client.waitFor((e) => e.type === "msg"),
      await alice.client.waitFor((e) => e.type === "msg"),
    ] as RoomMessage[];
    assert.deepEqual(
      got.map((m) => `${m.room}/${m.from}: ${m.text}`).sort(),
      ["class/bob: from class", "lobby/carol: from lobby"],
    );

    // say names its room; without one it goes to the current room (class).
    alice.client.send({ type: "say", text: "to lobby", room: "lobby" });
    alice.client.send({ type: "say", text: "to current" });
    const toLobby = await carol.client.waitFor(isMsg("to lobby"));
    assert.equal((toLobby as RoomMessage).room, "lobby");
    const toCurrent = await bob.client.waitFor(isMsg("to current"));
    assert.equal((toCurrent as RoomMessage).room, "class");
    alice.client.send({ type: "say", text: "x", room: "games" });
    const notIn = await alice.client.waitFor((e) => e.type === "error");
    assert.equal(notIn.type === "error" && notIn.code, "not_in_room");

    alice.client.send({ type: "part", room: "class" });
    const part = await alice.client.waitFor((e) => e.type === "part");
    assert.deepEqual(
      part.type === "part" && [part.room, part.current, part.rooms],
      ["class", "lobby", ["lobby"]],
    );
    const left = await bob.client.waitFor((e) => e.type === "leave");
    assert.equal(left.type === "leave" && left.nick, "alice");
    bob.client.send({ type: "say", text: "class after part" });
    await bob.client.waitFor(isMsg("class after part"));
    carol.client.send({ type: "say", text: "lobby after part" });
    const skipped: ServerEvent[] = [];
    await alice.client.waitFor(isMsg("lobby after part"), 5000, skipped);
    assert.ok(
      !skipped.some(isMsg("class after part")),
      "no class message after the part",
    );
    alice.client.send({ type: "part" });
    const last = await alice.client.waitFor((e) => e.type === "part");
    assert.deepEqual(
      last.type === "part" && [last.room, last.current, last.rooms],
      ["lobby", undefined, []],
      "the last room can be left too",
    );
    alice.client.send({ type: "say", text: "into the void" });
    const nowhere = await alice.client.waitFor((e) => e.type === "error");
    assert.equal(nowhere.type === "error" && nowhere.code, "not_in_room");
  } finally {
    await Promise.all([alice, bob, carol].map((c) => c.client.close()));
    await server.stop();
  }
});

Deno.test("JSON: a rename is announced once to a member sharing two rooms, and a disconnect in each room", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice", {
    rooms: [{ room: "class" }],
    room: "lobby",
  });
  const bob = await TestClient.join(server.port, "bob", {
    rooms: [{ room: "class" }],
    room: "lobby",
  });
  const dave = await TestClient.join(server.port, "dave", { room: "class" });
  try {
    // alice's hello answered two welcomes: class, then lobby (current).
    const second = await alice.client.waitFor((e) => e.type === "welcome");
    assert.equal(alice.welcome.room, "class");
    assert.equal(second.type === "welcome" && second.room, "lobby");
    bob.client.send({ type: "nick", nick: "rob" });
    await bob.client.waitFor((e) => e.type === "nick");
    alice.client.send({ type: "ping" });
    const skipped: ServerEvent[] = [];
    await alice.client.waitFor((e) => e.type === "pong", 5000, skipped);
    const renames = skipped.filter((e) => e.type === "nick");
    assert.equal(renames.length, 1, "once, not once per shared room");
    assert.equal(renames[0].type === "nick" && renames[0].room, "lobby");

    await bob.client.close();
    const left = await alice.client.waitFor((e) => e.type === "leave");
    const alsoLeft = await alice.client.waitFor((e) => e.type === "leave");
    assert.deepEqual(
      [left, alsoLeft].map((e) => e.type === "leave" && e.room).sort(),
      ["class", "lobby"],
    );
    const daveSaw = await dave.client.waitFor((e) => e.type === "leave");
    assert.equal(daveSaw.type === "leave" && daveSaw.nick, "rob");
  } finally {
    await Promise.all([alice, bob, dave].map((c) => c.client.close()));
    await server.stop();
  }
});

Deno.test("JSON: a hello with rooms resumes each room after its own since, each missed message once", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const talker = await TestClient.join(server.port, "talker", {
    rooms: [{ room: "class" }],
    room: "lobby",
  });
  const alice = await TestClient.join(server.port, "alice", {
    rooms: [{ room: "class" }],
    room: "lobby",
  });
  try {
    await talker.client.waitFor((e) => e.type === "welcome");
    await alice.client.waitFor((e) => e.type === "welcome");
    const say = async (room: string, text: string) => {
      talker.client.send({ type: "say", room, text });
      return await talker.client.waitFor(isMsg(text)) as RoomMessage;
    };
    await say("lobby", "lobby seen");
    await say("class", "class seen");
    const lastSeen: Record<string, number> = {};
    for (let i = 0; i < 2; i++) {
      const m = await alice.client.waitFor((e) =>
        e.type === "msg"
      ) as RoomMessage;
      lastSeen[m.room] = m.id;
    }
    await alice.client.close();
    for (
      const [room, text] of [["class", "c1"], ["lobby", "l1"], ["class", "c2"]]
    ) {
      await say(room, text);
    }

    const back = await TestClient.connect(server.port);
    try {
      await back.nextLine();
      back.send({
        type: "hello",
        nick: "alice",
        room: "lobby",
        since: lastSeen.lobby,
        rooms: [{ room: "class", since: lastSeen.class }],
      });
      const first = await back.waitFor((e) => e.type === "welcome") as Welcome;
      const second = await back.waitFor((e) => e.type === "welcome") as Welcome;
      assert.deepEqual(
        [first, second].map((w) => [w.room, w.history.map((m) => m.text)]),
        [["class", ["c1", "c2"]], ["lobby", ["l1"]]],
      );
      await say("class", "live");
      const live = await back.waitFor((e) => e.type === "msg") as RoomMessage;
      assert.equal(live.text, "live", "nothing replayed live a second time");
      // The current room is the last welcomed: a plain say goes to lobby.
      back.send({ type: "say", text: "home" });
      const home = await talker.client.waitFor(isMsg("home")) as RoomMessage;
      assert.equal(home.room, "lobby");
    } finally {
      await back.close();
    }
  } finally {
    await Promise.all([talker.client.close(), alice.client.close()]);
    await server.stop();
  }
});

Deno.test("the caps: one room too many for a member, a new room beyond the server's, each a clear error", async () => {
  const server = await ServerProcess.start([
    "--rate",
    "0",
    "--max-rooms-per-member",
    "2",
    "--max-rooms",
    "3",
  ]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob", { room: "b" });
  try {
    alice.client.send({ type: "join", room: "a" });
    await alice.client.waitFor((e) => e.type === "welcome");
    alice.client.send({ type: "join", room: "b" });
    const tooMany = await alice.client.waitFor((e) => e.type === "error");
    assert.equal(tooMany.type === "error" && tooMany.code, "too_many_rooms");
    assert.match(tooMany.type === "error" ? tooMany.message : "", /at most 2/);
    // lobby, a and b exist: the server keeps no fourth.
    bob.client.send({ type: "join", room: "c" });
    const full = await bob.client.waitFor((e) => e.type === "error");
    assert.equal(full.type === "error" && full.code, "rooms_full");
    assert.match(full.type === "error" ? full.message : "", /at most 3 rooms/);
    bob.client.send({ type: "join", room: "a" });
    const joined = await bob.client.waitFor((e) => e.type === "welcome");
    assert.equal(joined.type === "welcome" && joined.room, "a");
    const text = await joinText(server.port, "carol");
    text.write("/join zzz\n");
    await text.waitForLine(
      /^! not joined zzz: this server keeps at most 3 rooms/,
    );
    await text.close();
  } finally {
    await Promise.all([alice.client.close(), bob.client.close()]);
    await server.stop();
  }
});

Deno.test("text: /join keeps the old room, other rooms' messages show their name, /part and /rooms", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const carol = await TestClient.join(server.port, "carol");
  const dave = await TestClient.join(server.port, "dave", { room: "class" });
  const text = await joinText(server.port, "bob");
  try {
    text.write("/join class\n");
    await text.waitForLine(
      "* Now in class with dave. Your rooms: lobby, class (current); /part leaves one.",
    );
    dave.client.send({ type: "say", text: "hello class" });
    await text.waitForLine(/^\d\d:\d\d dave: hello class$/);
    carol.client.send({ type: "say", text: "lunch?" });
    await text.waitForLine(/^\d\d:\d\d \[lobby\] carol: lunch\?$/);
    text.write("typed in class\n");
    const typed = await dave.client.waitFor(isMsg("typed in class"));
    assert.equal((typed as RoomMessage).room, "class");
    text.write("/rooms\n");
    await text.waitForLine("* Rooms: class (2, current), lobby (2, joined)");
    text.write("/join lobby\n");
    await text.waitForLine(/^\* Now in lobby with carol\./);
    dave.client.send({ type: "me", text: "waves" });
    await text.waitForLine(/^\d\d:\d\d \[class\] \* dave waves$/);
    text.write("/part class\n");
    await text.waitForLine("* You left class. Your rooms: lobby (current).");
    const left = await dave.client.waitFor((e) => e.type === "leave");
    assert.equal(left.type === "leave" && left.nick, "bob");
    text.write("/part games\n");
    await text.waitForLine(/^! you are not in games/);
    text.write("still here\n");
    const still = await carol.client.waitFor(isMsg("still here"));
    assert.equal((still as RoomMessage).room, "lobby");
    text.write("/part\n");
    await text.waitForLine(
      "* You left lobby. You are in no room now: /join ROOM to talk again.",
    );
    text.write("hello?\n");
    await text.waitForLine("! you are in no room: /join ROOM first");
    text.write("/join lobby\n");
    await text.waitForLine(/^\* Welcome, bob! You are in lobby with carol\./);
  } finally {
    await Promise.all([
      carol.client.close(),
      dave.client.close(),
      text.close(),
    ]);
    await server.stop();
  }
});
