/** The hub without sockets: fake members record what they were sent. */

import { JSON_LINES } from "../protocol.ts";
import { TEXT_LINES } from "../src/shared/text_dialect.ts";

import assert from "node:assert/strict";
import { Hub, type Session } from "../src/server/hub.ts";
import { MemoryStore } from "../src/server/store.ts";
import { BACKPRESSURE } from "../src/shared/limits.ts";
import { FakeMember } from "./fake_member.ts";
import { COMMANDS } from "../src/shared/commands.ts";

function setup(options: { history?: number; failStore?: boolean } = {}) {
  const store = new MemoryStore();
  if (options.failStore) {
    store.append = () => {
      throw new Error("disk full");
    };
  }
  let flushes = 0;
  let clock = 1_000;
  const hub = new Hub({
    store,
    history: options.history,
    requestFlush: () => flushes++,
    now: () => clock++,
  });
  const join = (nick: string, room?: string, since?: number) => {
    const member = new FakeMember();
    const session = hub.hello(member, { nick, room, since });
    assert.equal(typeof session, "object", `${nick} joins`);
    return { member, session: session as Session };
  };
  return { hub, store, join, flushes: () => flushes };
}

Deno.test("a room message is stored before anyone sees it, then reaches every member once", () => {
  const { hub, store, join, flushes } = setup();
  const alice = join("alice");
  const bob = join("bob");
  alice.member.take();
  bob.member.take();
  hub.handle(alice.session, { type: "say", text: "hi" });
  assert.equal(flushes(), 1, "the hub asks for a flush");
  assert.deepEqual(alice.member.take(), [], "nothing is sent before the flush");
  assert.equal(store.messages.length, 0);
  hub.flush();
  assert.equal(store.messages.length, 1);
  const [toAlice] = alice.member.take("msg");
  const [toBob] = bob.member.take("msg");
  assert.deepEqual(toAlice, toBob);
  assert.equal(toAlice.type === "msg" && toAlice.from, "alice");
});

Deno.test("a broadcast is encoded once per dialect, whatever the room size", () => {
  const { hub, join } = setup();
  const members = Array.from({ length: 20 }, (_, i) => join(`m${i}`));
  for (const m of members) m.member.outgoing.length = 0;
  hub.handle(members[0].session, { type: "say", text: "once" });
  hub.flush();
  const first = members[0].member.outgoing[0];
  for (const m of members) {
    assert.equal(m.member.outgoing[0], first, "the same Outgoing");
  }
  assert.equal(
    first.bytes(JSON_LINES),
    first.bytes(JSON_LINES),
    "bytes are cached",
  );
  assert.match(
    new TextDecoder().decode(first.bytes(TEXT_LINES)),
    /^\d\d:\d\d m0: once\n$/,
  );
});

Deno.test("a batch keeps the order of ids, and messages go to their own room only", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob", "games");
  alice.member.take();
  bob.member.take();
  hub.handle(alice.session, { type: "say", text: "1" });
  hub.handle(bob.session, { type: "say", text: "games" });
  hub.handle(alice.session, { type: "me", text: "2" });
  hub.flush();
  const seen = alice.member.take("msg");
  assert.deepEqual(seen.map((e) => e.type === "msg" && e.text), ["1", "2"]);
  assert.equal(seen[1].type === "msg" && seen[1].me, true);
  const ids = seen.map((e) => e.type === "msg" ? e.id : 0);
  assert.ok(ids[0] < ids[1]);
  assert.deepEqual(
    bob.member.take("msg").map((e) => e.type === "msg" && e.text),
    ["games"],
  );
});

Deno.test("when storing fails nothing is echoed and the sender is told", () => {
  const { hub, join } = setup({ failStore: true });
  const alice = join("alice");
  const bob = join("bob");
  alice.member.take();
  bob.member.take();
  hub.handle(alice.session, { type: "say", text: "lost?" });
  hub.flush();
  assert.deepEqual(bob.member.take(), []);
  const [error] = alice.member.take();
  assert.equal(error.type === "error" && error.code, "store_failed");
});

Deno.test("nicknames are unique across case and compatibility forms", () => {
  const { hub, join } = setup();
  join("Alice");
  for (const nick of ["alice", "ALICE", "ａｌｉｃｅ"]) {
    assert.equal(hub.hello(new FakeMember(), { nick }), "nick_taken", nick);
  }
  for (const nick of ["", "a b", "x".repeat(25), "evil\u202e", "bell\x07"]) {
    assert.equal(
      hub.hello(new FakeMember(), { nick }),
      "nick_invalid",
      JSON.stringify(nick),
    );
  }
  assert.equal(typeof hub.hello(new FakeMember(), { nick: "小明" }), "object");
  assert.equal(
    typeof hub.hello(new FakeMember(), { nick: "x".repeat(24) }),
    "object",
  );
});

Deno.test("text is sanitised, and empty or overlong text is refused", () => {
  const { hub, join, store } = setup();
  const alice = join("alice");
  alice.member.take();
  hub.handle(alice.session, {
    type: "say",
    text: "  \x1b]0;pwned\x07hi\u202e\tthere  ",
  });
  hub.flush();
  assert.equal(store.messages[0].text, "]0;pwnedhi there");
  hub.handle(alice.session, { type: "say", text: " \t " });
  hub.handle(alice.session, { type: "say", text: "字".repeat(4001) });
  hub.flush();
  const codes = alice.member.take("error").map((e) =>
    e.type === "error" && e.code
  );
  assert.deepEqual(codes, ["empty", "text_too_long"]);
  hub.handle(alice.session, { type: "say", text: "字".repeat(4000) });
  hub.flush();
  assert.equal(store.messages.length, 2, "exactly 4000 characters is allowed");
});

Deno.test("join and leave are announced to the room with its size", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const [welcome] = alice.member.take();
  assert.equal(welcome.type, "welcome");
  const bob = join("bob");
  const [announce] = alice.member.take();
  assert.deepEqual({ ...announce, ts: 0 }, {
    type: "join",
    ts: 0,
    room: "lobby",
    nick: "bob",
    users: 2,
  });
  hub.leave(bob.session, "gone");
  hub.leave(bob.session, "twice");
  const leaves = alice.member.take();
  assert.equal(leaves.length, 1);
  assert.deepEqual({ ...leaves[0], ts: 0 }, {
    type: "leave",
    ts: 0,
    room: "lobby",
    nick: "bob",
    reason: "gone",
    users: 1,
  });
  assert.equal(
    typeof hub.hello(new FakeMember(), { nick: "bob" }),
    "object",
    "nick is free again",
  );
});

Deno.test("renaming announces the change and frees the old name", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  alice.member.take();
  hub.handle(bob.session, { type: "nick", nick: "ALICE" });
  assert.equal(bob.member.take("error")[0].type, "error");
  hub.handle(bob.session, { type: "nick", nick: "robert" });
  const [event] = alice.member.take();
  assert.deepEqual({ ...event, ts: 0 }, {
    type: "nick",
    ts: 0,
    room: "lobby",
    old: "bob",
    new: "robert",
  });
  assert.equal(hub.findMember("BOB"), undefined);
  assert.equal(hub.findMember("Robert"), bob.session);
});

Deno.test("joining a room welcomes into it with its history and keeps the first room", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob", "games");
  hub.handle(bob.session, { type: "say", text: "in games" });
  hub.flush();
  alice.member.take();
  bob.member.take();
  hub.handle(alice.session, { type: "join", room: "games" });
  const [welcome] = alice.member.take();
  assert.ok(welcome.type === "welcome");
  assert.equal(welcome.room, "games");
  assert.deepEqual(welcome.users, ["bob", "alice"]);
  assert.deepEqual(welcome.history.map((m) => m.text), ["in games"]);
  const [joined] = bob.member.take();
  assert.equal(joined.type === "join" && joined.nick, "alice");
  hub.handle(alice.session, { type: "rooms" });
  const [rooms] = alice.member.take();
  assert.ok(rooms.type === "rooms");
  assert.deepEqual(rooms.rooms, [
    { name: "games", users: 2 },
    { name: "lobby", users: 1 },
  ]);
  assert.deepEqual(rooms.joined, ["lobby", "games"]);
  assert.equal(rooms.current, "games");
  hub.handle(alice.session, { type: "join", room: "no spaces" });
  assert.equal(alice.member.take()[0].type, "error");
});

Deno.test("history: the last N for newcomers, everything after since for a resume", () => {
  const { hub, join } = setup({ history: 2 });
  const alice = join("alice");
  for (const text of ["a", "b", "c", "d"]) {
    hub.handle(alice.session, { type: "say", text });
  }
  hub.flush();
  const late = new FakeMember();
  hub.hello(late, { nick: "late" });
  const [welcome] = late.take();
  assert.ok(welcome.type === "welcome");
  assert.deepEqual(welcome.history.map((m) => m.text), ["c", "d"]);
  const resumed = new FakeMember();
  hub.hello(resumed, { nick: "resumed", since: welcome.history[0].id - 2 });
  const [resume] = resumed.take();
  assert.ok(resume.type === "welcome");
  assert.deepEqual(resume.history.map((m) => m.text), ["b", "c", "d"]);
});

Deno.test("a message said before a resume but stored after arrives exactly once", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  hub.handle(alice.session, { type: "say", text: "early" });
  hub.flush();
  hub.handle(alice.session, { type: "say", text: "in flight" });
  const late = new FakeMember();
  hub.hello(late, { nick: "late", since: 0 });
  hub.flush();
  const texts = late.events.flatMap((e) =>
    e.type === "welcome"
      ? e.history.map((m) => m.text)
      : e.type === "msg"
      ? [e.text]
      : []
  );
  assert.deepEqual(texts, ["early", "in flight"]);
});

Deno.test("private messages reach the recipient and the sender only, and are not stored", () => {
  const { hub, join, store } = setup();
  const alice = join("alice");
  const bob = join("bob", "elsewhere");
  const carol = join("carol");
  for (const m of [alice, bob, carol]) m.member.take();
  hub.handle(alice.session, { type: "dm", to: "Bob", text: "hi" });
  assert.equal(bob.member.take("dm").length, 1);
  assert.equal(alice.member.take("dm").length, 1);
  assert.deepEqual(carol.member.take(), []);
  assert.equal(store.messages.length, 0);
  hub.handle(alice.session, { type: "dm", to: "nobody", text: "hi" });
  const [error] = alice.member.take();
  assert.equal(error.type === "error" && error.code, "no_such_user");
});

Deno.test("ids continue after the store's last id", () => {
  const store = new MemoryStore();
  store.append([{
    type: "msg",
    id: 41,
    ts: 1,
    room: "lobby",
    from: "x",
    text: "old",
  }]);
  const hub = new Hub({ store });
  const member = new FakeMember();
  const session = hub.hello(member, { nick: "alice" }) as Session;
  hub.handle(session, { type: "say", text: "new" });
  hub.flush();
  assert.equal(store.messages[1].id, 42);
});

Deno.test("a member's queued messages go out before its leave and before its next command", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  alice.member.take();
  hub.handle(bob.session, { type: "say", text: "last words" });
  hub.handle(bob.session, { type: "who" });
  const order = bob.member.take().map((e) => e.type);
  assert.deepEqual(order.slice(-2), ["msg", "who"]);
  hub.handle(bob.session, { type: "say", text: "really last" });
  hub.leave(bob.session, "quit");
  assert.deepEqual(alice.member.take().map((e) => e.type), [
    "msg",
    "msg",
    "leave",
  ]);
});

Deno.test("closing the hub sends what is queued, then leaves go unannounced", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  alice.member.take();
  hub.handle(bob.session, { type: "say", text: "before shutdown" });
  hub.close();
  hub.leave(bob.session, "server shutting down");
  assert.deepEqual(alice.member.take().map((e) => e.type), ["msg"]);
});

Deno.test("a member whose welcome to a new room ends its connection leaves cleanly: its join, then its leave", () => {
  const { hub, join } = setup();
  const watcher = join("watcher", "b");
  const { member, session } = join("mover", "a");
  // The connection closes inside the delivery of its welcome, as one does
  // when the welcome is more than a client that does not read may queue.
  member.deliver = (out) => {
    if (out.event.type === "welcome") hub.leave(session, "too slow to read");
  };
  watcher.member.take();
  hub.handle(session, { type: "join", room: "b" });
  assert.deepEqual(hub.members("b").map((s) => s.nick), ["watcher"]);
  assert.deepEqual(
    watcher.member.take().map((e) => e.type),
    ["join", "leave"],
    "b sees it arrive, then leave, in that order",
  );
  assert.equal(hub.findMember("mover"), undefined, "the nick is free");
});

Deno.test("storing and delivering are two steps: messages stored elsewhere are delivered without being stored again", () => {
  const { hub, store, join } = setup();
  const alice = join("alice");
  const bob = join("bob", "class");
  alice.member.take();
  bob.member.take();
  hub.deliverStored([
    {
      type: "msg",
      id: 900,
      ts: 5,
      room: "lobby",
      from: "peer",
      text: "from afar",
    },
    { type: "msg", id: 901, ts: 6, room: "class", from: "peer", text: "also" },
  ]);
  assert.equal(store.messages.length, 0, "delivering does not store");
  assert.deepEqual(
    alice.member.take("msg").map((e) => e.type === "msg" && e.text),
    ["from afar"],
  );
  assert.deepEqual(
    bob.member.take("msg").map((e) => e.type === "msg" && e.text),
    ["also"],
  );
});

Deno.test("who names at most 200 members with the total, and pages by offset", () => {
  const { hub, join } = setup();
  const people = Array.from({ length: 450 }, (_, i) => join(`p${i}`));
  const asker = people[0];
  asker.member.take();
  const names: string[] = [];
  let offset: number | undefined = 0;
  for (let pages = 0; offset !== undefined && pages < 10; pages++) {
    hub.handle(asker.session, { type: "who", offset });
    const [who] = asker.member.take("who");
    assert.ok(who.type === "who");
    assert.ok(who.users.length <= 200, `${who.users.length} names`);
    assert.equal(who.total, 450);
    names.push(...who.users);
    offset = who.next;
  }
  assert.deepEqual(names, people.map((_, i) => `p${i}`), "each once, in order");
  hub.handle(asker.session, { type: "who", offset: 1000 });
  assert.deepEqual(asker.member.take("who"), [
    { type: "who", room: "lobby", users: [], total: 450 },
  ]);
  // A page is encoded once, until the room changes.
  hub.handle(asker.session, { type: "who", offset: 400 });
  hub.handle(asker.session, { type: "who", offset: 400 });
  const [first, again] = asker.member.outgoing.slice(-2);
  assert.equal(first, again, "the same encoded reply");
  asker.member.take();
  join("late");
  hub.handle(people[1].session, { type: "nick", nick: "renamed" });
  asker.member.take();
  hub.handle(asker.session, { type: "who", offset: 400 });
  const [page] = asker.member.take("who");
  assert.ok(page.type === "who");
  assert.equal(page.total, 451);
  assert.equal(page.users.at(-1), "late");
  hub.handle(asker.session, { type: "who" });
  const [head] = asker.member.take("who");
  assert.ok(head.type === "who" && head.users[1] === "renamed");
});

Deno.test("a welcome's history is bounded by bytes too and says more; history pages back from it", () => {
  const { hub, join } = setup({ history: 1000 });
  const alice = join("alice");
  const text = "字".repeat(3000); // about 9 KB a message
  for (let i = 0; i < 40; i++) {
    hub.handle(alice.session, { type: "say", text: `${i} ${text}` });
  }
  hub.flush();
  const late = join("late");
  const [welcome] = late.member.take("welcome");
  assert.ok(welcome.type === "welcome");
  assert.ok(welcome.history.length < 40, `${welcome.history.length} of 40`);
  assert.equal(welcome.more, true);
  assert.equal(welcome.history.at(-1)?.text.split(" ")[0], "39", "the newest");
  const seen = welcome.history.map((m) => Number(m.text.split(" ")[0]));
  let before = welcome.history[0].id;
  for (let pages = 0; pages < 40; pages++) {
    hub.handle(late.session, { type: "history", before, limit: 1000 });
    const [page] = late.member.take("history");
    assert.ok(page.type === "history");
    assert.equal(page.room, "lobby");
    seen.unshift(...page.messages.map((m) => Number(m.text.split(" ")[0])));
    if (!page.more) break;
    before = page.messages[0].id;
  }
  assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
  hub.handle(late.session, { type: "history", room: "games" });
  assert.deepEqual(
    late.member.take().map((e) => e.type === "error" && e.code),
    [
      "not_in_room",
    ],
  );
});

Deno.test("a tick whose messages reach maxTickChars of text is stored and sent at once", () => {
  const { hub, store, join, flushes } = setup();
  const alice = join("alice");
  const text = "x".repeat(4000);
  const perTick = Math.ceil(BACKPRESSURE.maxTickChars / text.length);
  for (let i = 0; i < perTick - 1; i++) {
    hub.handle(alice.session, { type: "say", text });
  }
  assert.equal(
    store.messages.length,
    0,
    "short of the cut: waits for the tick",
  );
  hub.handle(alice.session, { type: "say", text });
  assert.equal(store.messages.length, perTick, "at the cut: stored at once");
  assert.equal(flushes(), 1, "the tick's flush was asked for once");
});

Deno.test("every slash command's frame reaches a handler that answers its sender", () => {
  const { hub, join } = setup();
  join("bob");
  for (const command of COMMANDS.filter((c) => c.toFrame)) {
    if (command.name === "/quit") continue; // the connection's to answer
    const alice = join(`a${command.name.slice(1)}`);
    // Some take one word, or one of a few: `/op NICK`, `/muteall on|off`.
    const argLines = command.args === "" || command.args.startsWith("[")
      ? [""]
      : ["bob hello", "bob", "on"];
    const frame = argLines.map((args) => command.toFrame!(args))
      .find((f) => typeof f !== "string");
    assert.ok(frame && typeof frame !== "string", command.name);
    alice.member.take();
    hub.handle(alice.session, frame);
    hub.flush();
    assert.ok(
      alice.member.take().length > 0,
      `${command.name} (${frame.type}) is answered`,
    );
    hub.leave(alice.session);
  }
});

Deno.test("a pong comes after the messages sent before the ping, in the same tick's flush, not an early one", () => {
  const { hub, store, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  alice.member.take();
  bob.member.take();
  hub.handle(alice.session, { type: "say", text: "one" });
  hub.handle(alice.session, { type: "ping" });
  hub.handle(bob.session, { type: "say", text: "two" });
  assert.equal(store.messages.length, 0, "the ping did not flush the tick");
  assert.deepEqual(alice.member.take(), [], "no pong before its messages");
  hub.flush();
  assert.equal(store.messages.length, 2, "one transaction for both senders");
  assert.deepEqual(
    alice.member.take().map((e) => e.type === "msg" ? e.text : e.type),
    ["one", "two", "pong"],
  );
});

Deno.test("with nothing pending, a pong is sent at once", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  alice.member.take();
  hub.handle(alice.session, { type: "ping" });
  assert.deepEqual(alice.member.take().map((e) => e.type), ["pong"]);
});

Deno.test("a pong waiting on messages the store refused still comes, after their errors", () => {
  const { hub, join } = setup({ failStore: true });
  const alice = join("alice");
  alice.member.take();
  hub.handle(alice.session, { type: "say", text: "lost" });
  hub.handle(alice.session, { type: "ping" });
  hub.flush();
  assert.deepEqual(
    alice.member.take().map((e) => e.type === "error" ? e.code : e.type),
    ["store_failed", "pong"],
  );
});

Deno.test("away: each member sharing a room is told once, however many rooms; not the member itself; cleaned and cut; no repeat", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  hub.handle(alice.session, { type: "join", room: "class" });
  const bob = join("bob");
  hub.handle(bob.session, { type: "join", room: "class" });
  const carol = join("carol", "games");
  for (const m of [alice, bob, carol]) m.member.take();
  hub.setAway(alice.session, "  at\u0007 lunch " + "x".repeat(300));
  const told = bob.member.take("away");
  assert.equal(told.length, 1, "once, though bob shares two rooms");
  const [event] = told;
  assert.equal(event.type === "away" && event.nick, "alice");
  const text = event.type === "away" ? event.text ?? "" : "";
  assert.ok(/^at.? lunch x+$/.test(text), text);
  assert.ok(!text.includes("\u0007"), "control characters cleaned");
  assert.ok(text.length <= 200 && text.length > 190, `${text.length}`);
  assert.equal(alice.session.away, text);
  assert.deepEqual(alice.member.take("away"), [], "not sent to itself");
  assert.deepEqual(carol.member.take("away"), [], "no shared room");
  hub.setAway(alice.session, text);
  assert.deepEqual(bob.member.take("away"), [], "unchanged: no notice");
  hub.setAway(alice.session, undefined);
  const [back] = bob.member.take("away");
  assert.ok(back.type === "away" && back.text === undefined);
  assert.equal(alice.session.away, undefined);
});
