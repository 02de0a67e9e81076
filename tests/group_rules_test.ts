/**
 * The group's rules in the hub, without sockets: fake members, a fake clock
 * and an in-memory database, so a mute's expiry and the recall window are
 * checked without waiting.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { CommandFrame, ServerEvent } from "../protocol.ts";
import { COMMANDS } from "../src/shared/commands.ts";
import { Accounts } from "../src/server/accounts.ts";
import { Hub, type Session } from "../src/server/hub.ts";
import { MemoryStore } from "../src/server/store.ts";
import { FakeMember } from "./fake_member.ts";

/** A hub over one in-memory database with the owner `olga` and registered `bob`, `ben`. */
function group() {
  const database = new DatabaseSync(":memory:");
  const accounts = new Accounts(database);
  accounts.add("olga", "olga-pass", "owner");
  accounts.add("bob", "bob-pass");
  accounts.add("ben", "ben-pass");
  let now = 1_000_000;
  const log: string[] = [];
  const store = new MemoryStore();
  const hub = new Hub({
    store,
    database,
    now: () => now,
    log: (line) => log.push(line),
  });
  const join = (nick: string, address = "127.0.0.1") => {
    const member = new FakeMember();
    const session = hub.hello(member, {
      nick,
      signedIn: accounts.find(nick) !== undefined,
      address,
    });
    assert.equal(typeof session, "object", `${nick}: ${session}`);
    member.take();
    return { member, session: session as Session };
  };
  return {
    hub,
    store,
    log,
    join,
    advance: (ms: number) => now += ms,
    database,
  };
}

const errorsOf = (member: FakeMember) =>
  member.take("error").map((e) => (e as { code: string }).code);

function say(hub: Hub, session: Session, text: string): void {
  hub.handle(session, { type: "say", text });
  hub.flush();
}

Deno.test("a registered nickname is refused to a hello that did not prove its password, and its look-alikes too", () => {
  const { hub } = group();
  assert.equal(
    hub.hello(new FakeMember(), { nick: "Bob" }),
    "account_password",
  );
  // `o1ga` and `oIga` look like registered `olga`: as taken as it.
  for (const nick of ["o1ga", "oIga"]) {
    assert.equal(hub.hello(new FakeMember(), { nick }), "nick_taken", nick);
  }
  assert.equal(
    hub.hello(new FakeMember(), { nick: "ｂｏｂ" }),
    "account_password",
  );
  assert.equal(typeof hub.hello(new FakeMember(), { nick: "carol" }), "object");
});

Deno.test("a mute holds until its time is up, on a fake clock; the owner still speaks under /muteall", () => {
  const { hub, join, advance } = group();
  const olga = join("olga");
  const carol = join("carol");
  hub.handle(olga.session, { type: "mute", nick: "carol", seconds: 60 });
  const [mod] = carol.member.take("mod");
  assert.equal(
    (mod as Extract<ServerEvent, { type: "mod" }>).text,
    "carol was muted for 1 minute by olga",
  );
  say(hub, carol.session, "hello?");
  assert.deepEqual(errorsOf(carol.member), ["muted"]);
  advance(59_000);
  say(hub, carol.session, "now?");
  assert.deepEqual(errorsOf(carol.member), ["muted"]);
  advance(1_000);
  say(hub, carol.session, "free");
  assert.deepEqual(errorsOf(carol.member), []);

  hub.handle(olga.session, { type: "muteall", on: true });
  say(hub, carol.session, "quiet?");
  assert.deepEqual(errorsOf(carol.member), ["muted"]);
  olga.member.take();
  say(hub, olga.session, "the owner speaks");
  assert.equal(olga.member.take("msg").length, 1);
});

Deno.test("an admin acts on members but not on the owner or another admin; the owner acts on admins", () => {
  const { hub, join } = group();
  const olga = join("olga");
  const bob = join("bob");
  const ben = join("ben");
  join("carol");
  hub.handle(olga.session, { type: "op", nick: "bob" });
  hub.handle(olga.session, { type: "op", nick: "ben" });
  assert.equal(hub.roleIn(bob.session), "admin");
  bob.member.take();
  for (const nick of ["olga", "ben", "bob"]) {
    hub.handle(bob.session, { type: "kick", nick });
  }
  assert.deepEqual(errorsOf(bob.member), [
    "not_allowed",
    "not_allowed",
    "not_allowed",
  ]);
  hub.handle(bob.session, { type: "kick", nick: "carol" });
  assert.deepEqual(errorsOf(bob.member), []);
  ben.member.take();
  hub.handle(olga.session, { type: "mute", nick: "ben" });
  assert.deepEqual(
    ben.member.take("mod").map((e) => (e as { text: string }).text),
    ["ben was muted for 10 minutes by olga"],
  );
});

Deno.test("a guest's ban holds its address, not the registered members who share it", () => {
  const { hub, join } = group();
  const olga = join("olga");
  join("gus", "10.0.0.7");
  hub.handle(olga.session, { type: "ban", nick: "gus" });
  assert.equal(
    hub.hello(new FakeMember(), { nick: "gus2", address: "10.0.0.7" }),
    "banned",
  );
  assert.equal(
    typeof hub.hello(new FakeMember(), {
      nick: "bob",
      signedIn: true,
      address: "10.0.0.7",
    }),
    "object",
  );
  assert.equal(
    typeof hub.hello(new FakeMember(), { nick: "hal", address: "10.0.0.8" }),
    "object",
  );
});

Deno.test("recall: the sender's own within the window, then not; the owner's at any time; the message leaves the store", () => {
  const { hub, join, advance, store, log } = group();
  const olga = join("olga");
  const carol = join("carol");
  say(hub, carol.session, "first");
  say(hub, carol.session, "second");
  const [first, second] = store.messages;
  hub.handle(carol.session, { type: "recall" });
  const [recall] = olga.member.take("recall");
  assert.equal((recall as { id: number }).id, second.id);
  advance(2 * 60 * 1000 + 1);
  hub.handle(carol.session, { type: "recall", id: first.id });
  assert.deepEqual(errorsOf(carol.member), ["recall_expired"]);
  hub.handle(olga.session, { type: "recall", id: first.id });
  assert.equal(olga.member.take("recall").length, 1);
  assert.deepEqual(store.messages, []);
  hub.handle(olga.session, { type: "recall", id: first.id });
  assert.deepEqual(errorsOf(olga.member), ["no_such_message"]);
  assert.ok(log.includes(`recall lobby #${first.id} of carol by olga`));
});

Deno.test("every command the registry gives a role is refused, by the hub, to whoever ranks below it: a guest, and an admin for the owner's", () => {
  const { hub, join } = group();
  const olga = join("olga");
  const bob = join("bob");
  const carol = join("carol");
  join("dave");
  hub.handle(olga.session, { type: "op", nick: "bob" });
  bob.member.take();
  carol.member.take();
  const ruled = COMMANDS.filter((c) => c.role !== undefined && c.toFrame);
  assert.ok(ruled.length >= 9, ruled.map((c) => c.name).join(" "));
  for (const command of ruled) {
    const args = command.name === "/muteall" ? "on" : "dave";
    const frame = command.toFrame!(args);
    assert.equal(typeof frame, "object", command.name);
    hub.handle(carol.session, frame as CommandFrame);
    assert.deepEqual(errorsOf(carol.member), ["not_allowed"], command.name);
    if (command.role === "owner") {
      hub.handle(bob.session, frame as CommandFrame);
      assert.deepEqual(errorsOf(bob.member), ["not_allowed"], command.name);
    }
  }
  // `/notice` shows the notice to anyone; pinning one is the staff's.
  hub.handle(carol.session, { type: "notice", text: "mine now" });
  assert.deepEqual(errorsOf(carol.member), ["not_allowed"]);
});

Deno.test("a mute is 10 minutes unless told, 30 days at most; a ban for ever unless told, 30 days at most when timed", () => {
  const { hub, join } = group();
  const olga = join("olga");
  const carol = join("carol");
  const texts = () =>
    olga.member.take("mod").map((e) => (e as { text: string }).text);
  hub.handle(olga.session, { type: "mute", nick: "carol" });
  hub.handle(olga.session, {
    type: "mute",
    nick: "carol",
    seconds: 30 * 86400,
  });
  assert.deepEqual(texts(), [
    "carol was muted for 10 minutes by olga",
    "carol was muted for 30 days by olga",
  ]);
  for (
    const frame of [
      { type: "mute", nick: "carol", seconds: 30 * 86400 + 1 },
      { type: "mute", nick: "carol", seconds: 0 },
      { type: "ban", nick: "carol", seconds: 31 * 86400 },
    ] as const
  ) {
    hub.handle(olga.session, frame);
    const [refusal] = olga.member.take("error") as {
      code: string;
      message: string;
    }[];
    assert.equal(refusal.code, "bad_frame", JSON.stringify(frame));
    assert.equal(
      refusal.message,
      "a duration is like 30s, 10m, 2h or 7d, at most 30 days",
    );
  }
  assert.deepEqual(texts(), [], "nothing was done");
  hub.handle(olga.session, { type: "ban", nick: "carol" });
  assert.deepEqual(texts(), ["carol was banned by olga"]);
  assert.equal(carol.session.rooms.size, 0);
});

Deno.test("the owner is owner of every room and --role admin admin of every room; /op makes an admin of one room only", () => {
  const { hub, join, database } = group();
  new Accounts(database).add("adam", "adam-pass", "admin");
  const olga = join("olga");
  const adam = join("adam");
  const bob = join("bob");
  hub.handle(olga.session, { type: "op", nick: "bob" });
  for (const { session } of [olga, adam, bob]) {
    hub.handle(session, { type: "join", room: "games" });
  }
  assert.equal(hub.roleIn(olga.session, "games"), "owner");
  assert.equal(hub.roleIn(adam.session, "games"), "admin");
  assert.equal(hub.roleIn(bob.session, "lobby"), "admin");
  assert.equal(hub.roleIn(bob.session, "games"), undefined);
  const welcome = bob.member.take("welcome").at(-1) as Extract<
    ServerEvent,
    { type: "welcome" }
  >;
  assert.equal(welcome.room, "games");
  assert.equal(welcome.role, undefined);
  assert.deepEqual(welcome.roles, { olga: "owner", adam: "admin" });
  // An admin of every room still cannot act on the owner; the owner acts on it.
  adam.member.take();
  hub.handle(adam.session, { type: "mute", nick: "olga", room: "games" });
  assert.deepEqual(errorsOf(adam.member), ["not_allowed"]);
  hub.handle(olga.session, { type: "op", nick: "adam", room: "games" });
  assert.match(
    JSON.stringify(olga.member.take("error")),
    /adam is an admin of every room \(chat account sets that\)/,
  );
});
