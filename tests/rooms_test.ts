/**
 * Several rooms at once, in the hub without sockets: a member hears every
 * room it is in, each event naming its room; it speaks to any of them, leaves
 * one and keeps the rest, resumes each after its own last id, and meets the
 * caps with errors of their own.
 */

import assert from "node:assert/strict";
import { JSON_LINES, type ServerEvent } from "../protocol.ts";
import { Hub, type HubOptions, type Session } from "../src/server/hub.ts";
import { MemoryStore } from "../src/server/store.ts";
import { ROOM_LIMITS } from "../src/shared/limits.ts";
import {
  TEXT_LINES,
  TEXT_LINES_OTHER_ROOM,
} from "../src/shared/text_dialect.ts";
import { BatchMember, FakeMember } from "./fake_member.ts";

function setup(options: Partial<HubOptions> = {}) {
  const store = new MemoryStore();
  let clock = 1_000;
  const hub = new Hub({ store, now: () => clock++, ...options });
  const join = (
    nick: string,
    room?: string,
    member: FakeMember = new FakeMember(),
  ) => {
    const session = hub.hello(member, { nick, room });
    assert.equal(typeof session, "object", `${nick} joins`);
    return { member, session: session as Session };
  };
  return { hub, store, join };
}

const texts = (events: ServerEvent[]) =>
  events.flatMap((e) => e.type === "msg" ? [`${e.room}:${e.text}`] : []);

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("a member in two rooms hears both, each message naming its room, one batch per room", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby", new BatchMember());
  const bob = join("bob", "class");
  const carol = join("carol", "lobby");
  hub.handle(alice.session, { type: "join", room: "class" });
  hub.handle(bob.session, { type: "say", text: "in class" });
  hub.handle(carol.session, { type: "say", text: "in lobby" });
  hub.handle(carol.session, { type: "say", text: "again" });
  hub.flush();
  const batches = (alice.member as BatchMember).batches;
  assert.deepEqual(
    batches.map((b) => [b.room, b.items.length]),
    [["class", 1], ["lobby", 2]],
    "one entry per room that spoke, not one per message",
  );
  assert.deepEqual(
    batches.flatMap((b) => texts(b.items.map((o) => o.event))),
    ["class:in class", "lobby:in lobby", "lobby:again"],
  );
  assert.deepEqual(texts(bob.member.take("msg")), ["class:in class"]);
  assert.deepEqual(texts(carol.member.take("msg")), [
    "lobby:in lobby",
    "lobby:again",
  ]);
});

Deno.test("a batch names its room, and the text reading that names it is encoded once for everyone elsewhere", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby", new BatchMember());
  hub.handle(alice.session, { type: "join", room: "class" });
  const bob = join("bob", "lobby");
  hub.handle(bob.session, { type: "say", text: "hi" });
  hub.handle(bob.session, { type: "me", text: "waves" });
  hub.flush();
  const [batch] = (alice.member as BatchMember).batches;
  assert.equal(batch.room, "lobby");
  assert.match(
    decode(batch.bytes(TEXT_LINES_OTHER_ROOM)),
    /^\d\d:\d\d \[lobby\] bob: hi\n\d\d:\d\d \[lobby\] \* bob waves\n$/,
  );
  assert.match(
    decode(batch.bytes(TEXT_LINES)),
    /^\d\d:\d\d bob: hi\n\d\d:\d\d \* bob waves\n$/,
  );
  assert.equal(
    batch.bytes(TEXT_LINES_OTHER_ROOM),
    batch.bytes({ ...TEXT_LINES_OTHER_ROOM }),
    "cached by encoder id",
  );
  assert.doesNotMatch(decode(batch.bytes(JSON_LINES)), /\[lobby\]/);
});

Deno.test("say and me go to the current room or the one they name; a room you are not in is refused", () => {
  const { hub, join, store } = setup();
  const alice = join("alice", "lobby");
  hub.handle(alice.session, { type: "join", room: "class" });
  assert.equal(alice.session.room, "class", "join makes the room current");
  hub.handle(alice.session, { type: "say", text: "to current" });
  hub.handle(alice.session, { type: "say", text: "to lobby", room: "lobby" });
  hub.handle(alice.session, { type: "me", text: "nods", room: " lobby " });
  alice.member.take();
  hub.handle(alice.session, { type: "say", text: "nope", room: "games" });
  const [error] = alice.member.take();
  assert.equal(error.type === "error" && error.code, "not_in_room");
  assert.match(error.type === "error" ? error.message : "", /games/);
  hub.flush();
  assert.deepEqual(store.messages.map((m) => `${m.room}:${m.text}`), [
    "class:to current",
    "lobby:to lobby",
    "lobby:nods",
  ]);
});

Deno.test("part leaves one room and keeps the others; the current one passes to the room joined last", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby");
  const bob = join("bob", "class");
  const carol = join("carol", "lobby");
  hub.handle(alice.session, { type: "join", room: "class" });
  hub.handle(alice.session, { type: "join", room: "games" });
  for (const m of [alice, bob, carol]) m.member.take();
  hub.handle(alice.session, { type: "part", room: "class" });
  const [part] = alice.member.take();
  assert.deepEqual({ ...part, ts: 0 }, {
    type: "part",
    ts: 0,
    room: "class",
    current: "games",
    rooms: ["lobby", "games"],
  });
  const [left] = bob.member.take();
  assert.deepEqual({ ...left, ts: 0 }, {
    type: "leave",
    ts: 0,
    room: "class",
    nick: "alice",
    users: 1,
  });
  assert.deepEqual(carol.member.take(), [], "lobby saw nothing");
  // Leaving the current room makes the one joined last current.
  hub.handle(alice.session, { type: "part" });
  const [second] = alice.member.take();
  assert.equal(second.type === "part" && second.room, "games");
  assert.equal(second.type === "part" && second.current, "lobby");
  assert.equal(alice.session.room, "lobby");
  hub.handle(bob.session, { type: "say", text: "class only" });
  hub.handle(carol.session, { type: "say", text: "lobby still" });
  hub.flush();
  assert.deepEqual(texts(alice.member.take("msg")), ["lobby:lobby still"]);
  hub.handle(alice.session, { type: "part", room: "class" });
  const [notIn] = alice.member.take();
  assert.equal(notIn.type === "error" && notIn.code, "not_in_room");
  assert.deepEqual([...alice.session.rooms], ["lobby"]);
});

Deno.test("leaving the last room leaves a member in no room: still reachable, told where to go", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby");
  const bob = join("bob", "lobby");
  alice.member.take();
  hub.handle(alice.session, { type: "part" });
  const [part] = alice.member.take();
  assert.deepEqual({ ...part, ts: 0 }, {
    type: "part",
    ts: 0,
    room: "lobby",
    rooms: [],
  });
  assert.equal(alice.session.room, undefined);
  assert.equal(bob.member.take("leave").length, 1);
  for (
    const frame of [
      { type: "say", text: "anyone?" },
      { type: "who" },
      { type: "part" },
    ] as const
  ) {
    hub.handle(alice.session, frame);
    const [error] = alice.member.take();
    assert.equal(error.type === "error" && error.code, "not_in_room");
    assert.match(error.type === "error" ? error.message : "", /no room/);
  }
  hub.handle(bob.session, { type: "dm", to: "alice", text: "still there?" });
  assert.equal(alice.member.take("dm").length, 1, "private messages reach it");
  hub.handle(alice.session, { type: "nick", nick: "alicia" });
  const [renamed] = alice.member.take();
  assert.equal(renamed.type === "nick" && renamed.new, "alicia");
  assert.deepEqual(bob.member.take("nick"), [], "no shared room, no notice");
  hub.handle(alice.session, { type: "join", room: "lobby" });
  assert.equal(alice.session.room, "lobby");
  hub.handle(alice.session, { type: "say", text: "back" });
  hub.flush();
  assert.deepEqual(texts(bob.member.take("msg")), ["lobby:back"]);
});

Deno.test("joining a room you are in makes it current with a fresh welcome and no join notice", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby");
  const bob = join("bob", "lobby");
  hub.handle(alice.session, { type: "join", room: "class" });
  alice.member.take();
  bob.member.take();
  hub.handle(alice.session, { type: "join", room: "lobby" });
  const [welcome] = alice.member.take();
  assert.ok(welcome.type === "welcome");
  assert.equal(welcome.room, "lobby");
  assert.deepEqual(welcome.rooms, ["lobby", "class"]);
  assert.equal(alice.session.room, "lobby");
  assert.deepEqual(bob.member.take(), []);
});

Deno.test("a rename reaches each member once, however many rooms they share", () => {
  const { hub, join } = setup();
  const bob = join("bob", "lobby");
  hub.handle(bob.session, { type: "join", room: "class" });
  const both = join("alice", "lobby");
  hub.handle(both.session, { type: "join", room: "class" });
  const lobbyOnly = join("carol", "lobby");
  const classOnly = join("dave", "class");
  for (const m of [bob, both, lobbyOnly, classOnly]) m.member.take();
  hub.handle(bob.session, { type: "nick", nick: "rob" });
  const seen = (m: { member: FakeMember }) =>
    m.member.take().map((e) =>
      e.type === "nick" && `${e.room}:${e.old}>${e.new}`
    );
  assert.deepEqual(
    seen(both),
    ["class:bob>rob"],
    "once, in alice's current room",
  );
  assert.deepEqual(seen(lobbyOnly), ["lobby:bob>rob"]);
  assert.deepEqual(seen(classOnly), ["class:bob>rob"]);
  assert.deepEqual(seen(bob), ["class:bob>rob"]);
  hub.handle(both.session, { type: "who", room: "lobby" });
  const [who] = both.member.take();
  assert.deepEqual(who.type === "who" && who.users, ["rob", "alice", "carol"]);
});

Deno.test("leaving the server is announced in every room the member was in", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby");
  hub.handle(alice.session, { type: "join", room: "class" });
  const bob = join("bob", "lobby");
  const carol = join("carol", "class");
  bob.member.take();
  carol.member.take();
  hub.leave(alice.session, "quit");
  for (const [m, room] of [[bob, "lobby"], [carol, "class"]] as const) {
    const [left] = m.member.take();
    assert.equal(
      left.type === "leave" && `${left.room}:${left.nick}`,
      `${room}:alice`,
    );
  }
  hub.handle(bob.session, { type: "rooms" });
  const [rooms] = bob.member.take();
  assert.deepEqual(rooms.type === "rooms" && rooms.rooms, [
    { name: "class", users: 1 },
    { name: "lobby", users: 1 },
  ]);
});

Deno.test("a hello with rooms joins each, current last, each resumed after its own since", () => {
  const { hub, join } = setup();
  const talk = join("talker", "lobby");
  hub.handle(talk.session, { type: "join", room: "class" });
  const say = (room: string, text: string) =>
    hub.handle(talk.session, { type: "say", text, room });
  say("lobby", "l1");
  say("class", "c1");
  hub.flush();
  const [l1, c1] = talk.member.take("msg").map((e) =>
    e.type === "msg" ? e.id : 0
  );
  say("class", "c2");
  say("lobby", "l2");
  say("class", "c3");
  hub.flush();
  const back = new FakeMember();
  const session = hub.hello(back, {
    nick: "alice",
    room: "lobby",
    since: l1,
    rooms: [{ room: "class", since: c1 }, { room: "lobby", since: 0 }],
  }) as Session;
  const welcomes = back.take().filter((e) => e.type === "welcome");
  assert.deepEqual(
    welcomes.map((w) =>
      w.type === "welcome" && [w.room, w.history.map((m) => m.text)]
    ),
    [["class", ["c2", "c3"]], ["lobby", ["l2"]]],
    "each missed message once, in its room's welcome; current last",
  );
  assert.equal(session.room, "lobby");
  assert.deepEqual([...session.rooms], ["class", "lobby"]);
  const refused = hub.hello(new FakeMember(), {
    nick: "eve",
    rooms: [{ room: "ok" }, { room: "not ok" }],
  });
  assert.equal(refused, "room_invalid");
  assert.equal(
    hub.findMember("eve"),
    undefined,
    "a refused hello claims nothing",
  );
});

Deno.test("a hello's rooms without room: the last listed is current", () => {
  const { hub } = setup();
  const member = new FakeMember();
  const session = hub.hello(member, {
    nick: "alice",
    rooms: [{ room: "a" }, { room: "b" }],
  }) as Session;
  assert.equal(session.room, "b");
  assert.deepEqual([...session.rooms], ["a", "b"]);
});

Deno.test("rooms per member and rooms per server are capped, each with its own error", () => {
  const { hub, join } = setup({ maxRoomsPerMember: 2, maxRooms: 3 });
  const alice = join("alice", "lobby");
  hub.handle(alice.session, { type: "join", room: "a" });
  alice.member.take();
  hub.handle(alice.session, { type: "join", room: "b" });
  const [tooMany] = alice.member.take();
  assert.equal(tooMany.type === "error" && tooMany.code, "too_many_rooms");
  assert.match(
    tooMany.type === "error" ? tooMany.message : "",
    /at most 2 rooms/,
  );
  assert.deepEqual([...alice.session.rooms], ["lobby", "a"], "nothing changed");
  const bob = join("bob", "b"); // lobby, a, b: the server is full
  hub.handle(bob.session, { type: "join", room: "c" });
  const [full] = bob.member.take().filter((e) => e.type === "error");
  assert.equal(full.type === "error" && full.code, "rooms_full");
  hub.handle(bob.session, { type: "join", room: "a" });
  assert.equal(bob.session.room, "a", "an existing room can still be joined");
  assert.equal(
    hub.hello(new FakeMember(), { nick: "carol", room: "d" }),
    "rooms_full",
  );
  const dave = join("dave"); // the default room is always open
  assert.equal(dave.session.room, "lobby");
});

Deno.test("a hello over the caps gets in with the rooms that fit and an error naming the rest", () => {
  const { hub } = setup({ maxRoomsPerMember: 3 });
  const member = new FakeMember();
  const session = hub.hello(member, {
    nick: "alice",
    room: "home",
    rooms: ["a", "b", "c", "d"].map((room) => ({ room })),
  }) as Session;
  assert.deepEqual([...session.rooms], ["a", "b", "home"]);
  assert.equal(session.room, "home");
  const events = member.take();
  assert.deepEqual(events.map((e) => e.type === "welcome" ? e.room : e.type), [
    "a",
    "b",
    "home",
    "error",
  ]);
  const error = events.at(-1)!;
  assert.equal(error.type === "error" && error.code, "too_many_rooms");
  assert.match(error.type === "error" ? error.message : "", /not joined c, d/);
});

Deno.test("big-room summaries stay per room: a member of a big and a small room sees each as it should", () => {
  const { hub, join } = setup();
  const alice = join("alice", "lobby");
  hub.handle(alice.session, { type: "join", room: "hall" });
  for (let i = 0; i < ROOM_LIMITS.bigRoomMembers; i++) join(`m${i}`, "hall");
  hub.flushNotices(); // the hall is big now: start from a clean summary
  alice.member.take();
  join("late", "hall");
  join("friend", "lobby");
  const now = alice.member.take();
  assert.deepEqual(
    now.map((e) => e.type === "join" && `${e.room}:${e.nick}`),
    ["lobby:friend"],
    "the small room's join at once, the big room's held for its summary",
  );
  hub.flushNotices();
  const [summary] = alice.member.take();
  assert.equal(summary.type === "join" && summary.room, "hall");
  assert.equal(summary.type === "join" && summary.nick, "late");
  assert.equal(
    summary.type === "join" && summary.users,
    ROOM_LIMITS.bigRoomMembers + 2,
  );
});
